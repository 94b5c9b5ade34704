"""The leaderboard rendered as Markdown or a self-contained HTML page."""

from __future__ import annotations

from typing import Any

from kubebench.report.html_page import esc, num, page, pct, table

COLUMNS = (
    "#",
    "model",
    "configuration",
    "success (95 % CI)",
    "runtime valid",
    "operational valid",
    "judge mean",
    "overall score",
    "pass@k",
    "format errors",
    "tokens / task",
    "seconds / task",
    "date",
    "KubeBench",
    "command",
)


def _ci(rate: dict[str, Any]) -> str:
    if not rate["n"]:
        return "—"
    low, high = rate["ci95"]
    return f"{pct(rate['rate'])} [{pct(low)}–{pct(high)}]"


def _pass_k(row: dict[str, Any]) -> str:
    return ", ".join(f"@{k} {pct(v)}" for k, v in row["pass_at_k"].items()) or "—"


def _cells(row: dict[str, Any]) -> list[str]:
    model = row["model_id"] + (
        ""
        if row["complete"]
        else f" (partial: {row['attempts']['recorded']}/{row['attempts']['planned']})"
    )
    return [
        str(row["rank"]),
        model,
        row["configuration_label"],
        _ci(row["success"]),
        pct(row["runtime_valid"]["rate"]),
        pct(row["operational_valid"]["rate"]),
        num(row["judge_mean"]),
        num(row["overall_score"], 3),
        _pass_k(row),
        pct(row["format_error_rate"]["rate"]),
        num(row["tokens_per_task"], 0),
        num(row["seconds_per_task"]),
        row["date"][:10],
        row["kubebench_version"] or "—",
        row["command"],
    ]


def _title(key: dict[str, Any]) -> str:
    return (
        f"{key['split']} split, {key['tasks']} tasks, task-set {key['task_set_hash'][:12] or '—'}, "
        f"prompt {key['prompt_version'] or '—'}"
    )


def render_markdown(data: dict[str, Any]) -> str:
    out = ["# KubeBench leaderboard", ""]
    for t in data["tables"]:
        out += [f"## {_title(t['key'])}", ""]
        out.append("| " + " | ".join(COLUMNS) + " |")
        out.append("|" + "---|" * len(COLUMNS))
        for row in t["rows"]:
            cells = [c.replace("|", "\\|") for c in _cells(row)]
            cells[-1] = f"`{cells[-1]}`"
            out.append("| " + " | ".join(cells) + " |")
        if t["superseded_runs"]:
            names = ", ".join(t["superseded_runs"])
            out.append(f"\nsuperseded by a later run of the same configuration: {names}")
        out.append("")
    for s in data["skipped"]:
        out.append(f"- skipped {s['path']}: {s['reason']}")
    out += [f"_{n}_" for n in data["notes"]]
    return "\n".join(out) + "\n"


def render_html(data: dict[str, Any]) -> str:
    sections = []
    for i, t in enumerate(data["tables"], start=1):
        rows = []
        for row in t["rows"]:
            cells = [esc(c) for c in _cells(row)]
            cells[-1] = f"<code>{cells[-1]}</code>"
            rows.append(cells)
        body = table(list(COLUMNS), rows, numeric=(0, 6, 7, 10, 11), raw=True)
        if t["superseded_runs"]:
            body += f'<p class="note">superseded: {esc(", ".join(t["superseded_runs"]))}</p>'
        sections.append((f"table-{i}", _title(t["key"]), body))
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in data["notes"])
    notes += "".join(
        f'<p class="note">skipped {esc(s["path"])}: {esc(s["reason"])}</p>' for s in data["skipped"]
    )
    sections.append(("notes", "Notes", notes))
    return page(
        "KubeBench leaderboard", f"{len(data['tables'])} table(s) of comparable runs", sections
    )
