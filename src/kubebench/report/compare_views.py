"""`kubebench compare` rendered as terminal tables or a self-contained HTML page."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from kubebench.report import plots
from kubebench.report.html_page import esc, figure, key_values, page, pct, table


def _diff_text(d: dict[str, Any]) -> str:
    if d["delta"] is None:
        return "—"
    low, high = d["ci95"]
    return f"{100 * d['delta']:+.1f} pt (95 % CI {100 * low:+.1f} to {100 * high:+.1f})"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _flip_rows(entries: list[dict[str, Any]], side: str) -> list[tuple[str, ...]]:
    return [
        (e["attempt_key"], e["kind"], e["tier"], e[side]["stage"] or "—", e[side]["reason"] or "")
        for e in entries
    ]


def _diff_short(d: dict[str, Any]) -> str:
    if d["delta"] is None:
        return "—"
    low, high = d["ci95"]
    return f"{100 * d['delta']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def render_text(data: dict[str, Any], *, max_flips: int = 20) -> RenderableType:
    parts: list[RenderableType] = []
    base = data["baseline"]
    for c in data["comparisons"]:
        o = c["overall"]
        t = Table(title=f"{c['run_id']} vs baseline {base['run_id']}", title_justify="left")
        t.add_column("kind / tier", min_width=18, overflow="fold")
        for name in ("pairs", "baseline", "run", "Δ pt [95 % CI]", "McNemar p", "fixed", "broken"):
            t.add_column(name, justify="right")
        rows = [("all", o)] + [(f"{x['kind']} / {x['tier']}", x) for x in c["by_cell"]]
        for label, x in rows:
            t.add_row(
                label,
                str(x["pairs"]),
                pct(x["baseline"]["rate"]),
                pct(x["run"]["rate"]),
                _diff_short(x["difference"]),
                _p(x["mcnemar_p"]),
                str(x["passed_in_run_only"]),
                str(x["passed_in_baseline_only"]),
            )
            if label == "all":
                t.add_section()
        if c["excluded_attempts"]:
            t.caption = (
                f"{c['excluded_attempts']} attempts not in both runs or not graded: left out"
            )
        parts.append(t)
        for way, side, title in (
            ("fixed", "baseline", "fail → pass"),
            ("broken", "run", "pass → fail"),
        ):
            entries = c["flips"][way]
            ft = Table(title=f"{title}: {len(entries)} attempts", title_justify="left")
            for name in ("attempt", "kind", "tier", "stage", "reason (failing side)"):
                ft.add_column(name, overflow="fold")
            for row in _flip_rows(entries[:max_flips], side):
                ft.add_row(*row[:4], row[4][:160])
            parts.append(ft)
    for w in data["warnings"]:
        parts.append(f"[yellow]warning (--force):[/] {w}")
    return Group(*parts)


def render_html(data: dict[str, Any]) -> str:
    base = data["baseline"]
    sections = []
    runs = [("baseline", f"{base['run_id']} — {base['model_id']} ({base['run_dir']})")]
    runs += [
        (f"run {i + 1}", f"{c['run_id']} — {c['model_id']} ({c['run_dir']})")
        for i, c in enumerate(data["comparisons"])
    ]
    body = key_values(runs) + f'<p class="note">{esc(data["method"])}</p>'
    if data["warnings"]:
        body += "".join(
            f'<p class="fail">compared with --force: {esc(w)}</p>' for w in data["warnings"]
        )
    sections.append(("runs", "Runs", body))
    for i, c in enumerate(data["comparisons"]):
        o = c["overall"]
        labels = ["all"] + [f"{x['kind']} / {x['tier']}" for x in c["by_cell"]]
        diffs = [o["difference"]] + [x["difference"] for x in c["by_cell"]]
        rows = []
        for label, x in zip(labels, [o, *c["by_cell"]], strict=True):
            rows.append(
                (
                    label,
                    x["pairs"],
                    pct(x["baseline"]["rate"]),
                    pct(x["run"]["rate"]),
                    _diff_text(x["difference"]),
                    _p(x["mcnemar_p"]),
                    x["passed_in_run_only"],
                    x["passed_in_baseline_only"],
                )
            )
        diff_svg = plots.differences_svg(
            labels, diffs, title="success difference (95 % CI)", name=f"diffs-{i}"
        )
        values = {(x["kind"], x["tier"]): x["difference"]["delta"] for x in c["by_cell"]}
        cell_labels = {
            (x["kind"], x["tier"]): f"{100 * x['difference']['delta']:+.0f} pt\nn={x['pairs']}"
            for x in c["by_cell"]
        }
        heat = plots.heatmap_svg(
            c["kinds"],
            c["tiers"],
            values,
            cell_labels,
            diverging=True,
            title="success difference by kind × tier",
            name=f"delta-{i}",
        )
        body = (
            table(
                ["", "pairs", "baseline", "run", "difference", "McNemar p", "fixed", "broken"],
                rows,
                numeric=(1, 2, 3, 5, 6, 7),
            )
            + f'<p class="note">{c["excluded_attempts"]} attempts not graded in both runs '
            "were left out.</p>" + f'<div class="figures">{figure(heat)}{figure(diff_svg)}</div>'
        )
        sections.append((f"comparison-{i + 1}", f"{c['run_id']} vs baseline", body))
        for way, side, title in (
            ("fixed", "baseline", "fail → pass"),
            ("broken", "run", "pass → fail"),
        ):
            entries = c["flips"][way]
            ids = [f"flip-{i + 1}-{way}-{n}" for n in range(len(entries))]
            flip_body = (
                table(
                    ["attempt", "kind", "tier", "stage", "reason (failing side)"],
                    _flip_rows(entries, side),
                    row_ids=ids,
                )
                if entries
                else '<p class="note">none</p>'
            )
            sections.append((f"flips-{i + 1}-{way}", f"{title} ({len(entries)})", flip_body))
    return page(
        f"KubeBench comparison — baseline {base['run_id']}",
        f"{len(data['comparisons'])} run(s) against {base['model_id']}",
        sections,
    )
