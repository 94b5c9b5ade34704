"""One run's report rendered as HTML, Markdown or terminal tables, from `build_report`'s
dict."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from kubebench.report import plots
from kubebench.report.html_page import esc, figure, key_values, num, page, pct, rate_text, table

# The sections of the HTML report, in order: (id, navigation title).
SECTIONS = (
    ("provenance", "Provenance"),
    ("rates", "Rates"),
    ("heatmap", "Kind × tier"),
    ("failures", "Where attempts fail"),
    ("pass-k", "pass@k / pass^k"),
    ("judge", "Judge"),
    ("costs", "Tokens and time"),
    ("text-metrics", "Text metrics"),
    ("failed-attempts", "Failed attempts"),
)
RATE_LABELS = {
    "success": "success (runtime ∧ operational)",
    "runtime_valid": "runtime valid (server dry-run and apply)",
    "operational_valid": "operational valid (expectations)",
}


def _provenance_pairs(p: dict[str, Any]) -> list[tuple[str, Any]]:
    g = p["generation"]
    generation = (
        f"temperature {g['temperature']}, top_p {g['top_p']}, max_tokens {g['max_tokens']}, "
        f"seed {g['seed']}" + (f", stop {g['stop']}" if g.get("stop") else "")
    )
    command = p["command"] + ("" if p["command_recorded"] else "   (reconstructed from run.json)")
    return [
        ("run", p["run_id"]),
        ("model", p["model_id"]),
        ("endpoint", p["endpoint"] or "—"),
        ("provider", ", ".join(f"{k}={v}" for k, v in p["provider"].items()) or "—"),
        ("generation", generation),
        ("prompt version / shots", f"{p['prompt_version'] or '—'} / {p['shots']}"),
        ("split / tasks / samples", f"{p['split']} / {p['planned_tasks']} / {p['samples']}"),
        ("filters", ", ".join(f"{k}={v}" for k, v in p["filters"].items()) or "none"),
        ("task-set hash", p["task_set_hash"] or "—"),
        ("judge", p["judge_id"] or "none"),
        ("scorers", ", ".join(p.get("scorers") or []) or "—"),
        ("KubeBench", p["kubebench_version"] or "—"),
        ("Kubernetes", p["kubernetes_version"] or "—"),
        ("git revision", p["git_revision"] or "—"),
        (
            "Python / packages",
            f"{p['python_version']}; " + ", ".join(f"{k} {v}" for k, v in p["packages"].items()),
        ),
        ("started", p["created_at"]),
        ("command", command),
    ]


def _status_line(data: dict[str, Any]) -> str:
    s = data["status"]
    parts = [f"{s['recorded']} of {s['planned']} attempts recorded"]
    if s["missing"]:
        parts.append(f"{s['missing']} not yet run")
    if s["writer_active"]:
        parts.append("a kubebench process is still writing this run: figures are a snapshot")
    if s["infrastructure_errors"]:
        parts.append(f"{s['infrastructure_errors']} infrastructure errors, not scored")
    if s["store_warnings"]:
        parts.append(f"{len(s['store_warnings'])} unreadable lines skipped")
    return "; ".join(parts)


def _heatmap_svg(data: dict[str, Any]) -> str:
    h = data["heatmap"]
    values = {(c["kind"], c["tier"]): c["rate"] for c in h["cells"]}
    labels = {(c["kind"], c["tier"]): f"{pct(c['rate'], 0)}\n{c['k']}/{c['n']}" for c in h["cells"]}
    return plots.heatmap_svg(
        h["kinds"], h["tiers"], values, labels, title="success rate by kind × tier", name="heatmap"
    )


def render_html(data: dict[str, Any]) -> str:
    """The self-contained HTML report."""
    p = data["provenance"]
    html: dict[str, str] = {}
    html["provenance"] = (
        key_values(_provenance_pairs(p)) + f'<p class="note">{esc(_status_line(data))}</p>'
    )

    rates = data["rates"]
    rate_rows = [(RATE_LABELS[k], rate_text(v)) for k, v in rates.items()]
    rate_rows.append(("format errors (no YAML / unparsable)", rate_text(data["format_errors"])))
    by_kind_rows = [
        (kind, *(rate_text(r[k]) for k in ("success", "runtime_valid", "operational_valid")))
        for kind, r in data["rates_by_kind"].items()
    ]
    html["rates"] = (
        '<div class="figures">'
        + figure(plots.rates_svg(rates, title="rates over graded attempts (95 % Wilson CI)"))
        + key_values(rate_rows)
        + "</div><h3>by kind</h3>"
        + table(["kind", "success", "runtime valid", "operational valid"], by_kind_rows)
    )

    h = data["heatmap"]
    cells = {(c["kind"], c["tier"]): c for c in h["cells"]}
    grid_rows = [
        (kind, *(rate_text(cells[(kind, t)]) if (kind, t) in cells else "" for t in h["tiers"]))
        for kind in h["kinds"]
    ]
    html["heatmap"] = (
        figure(_heatmap_svg(data)) if h["cells"] else '<p class="note">no graded attempts</p>'
    ) + table(["kind", *h["tiers"]], grid_rows)

    f = data["failure_stages_by_kind"]
    used = [s for s in f["stages"] if any(f["kinds"][k][s] for k in f["kinds"])]
    fail_rows = [(kind, *(f["kinds"][kind][s] for s in used)) for kind in f["kinds"]]
    if used:
        svg = plots.stacked_bars_svg(
            list(f["kinds"]),
            f["stages"],
            f["kinds"],
            title="failed attempts by the stage they stopped at",
            xlabel="failed attempts",
            name="failures",
        )
        html["failures"] = figure(svg) + table(
            ["kind", *used], fail_rows, numeric=range(1, len(used) + 1)
        )
    else:
        html["failures"] = '<p class="note">no attempt failed</p>'

    if data["pass_k"]:
        rows = [
            (pk["k"], pct(pk["pass_at_k"]), pct(pk["pass_hat_k"]), pk["tasks"])
            for pk in data["pass_k"]
        ]
        html["pass-k"] = figure(plots.pass_k_svg(data["pass_k"])) + table(
            ["k", "pass@k", "pass^k", "tasks with ≥ k samples"], rows, numeric=(0, 1, 2, 3)
        )
    else:
        html["pass-k"] = (
            f'<p class="note">{data["provenance"]["samples"]} sample per task: pass@k and pass^k '
            "need <code>--samples</code> &gt; 1</p>"
        )

    judge_parts = []
    for j in data["judge_details"]:
        crit = j["criteria"]
        scores = [str(s) for s in range(1, 6)]
        judge_parts.append(f"<h3>judge {esc(j['judge_id'])}</h3>")
        if crit:
            svg = plots.stacked_bars_svg(
                list(crit),
                scores,
                crit,
                title="criterion scores (1–5)",
                xlabel="attempts",
                colors=("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac"),
                name=f"judge-{j['judge_id']}",
            )
            hist = j["overall_score_histogram"]
            over = plots.histogram_svg(
                hist["edges"],
                hist["counts"],
                title="overall score",
                xlabel="overall score (0–1)",
                name=f"overall-{j['judge_id']}",
            )
            judge_parts.append(f'<div class="figures">{figure(svg)}{figure(over)}</div>')
        rows = [(c, *(crit[c][s] for s in scores), num(j["criterion_means"].get(c))) for c in crit]
        judge_parts.append(table(["criterion", *scores, "mean"], rows, numeric=range(1, 7)))
        judge_parts.append(
            f'<p class="note">scored {j["scored"]}, unscored {j["unscored"]}; mean overall '
            f"score {num(j['overall_score_mean'], 3)}</p>"
        )
    html["judge"] = (
        "".join(judge_parts) or '<p class="note">not judged (no --judge, no kubebench judge)</p>'
    )

    c = data["costs"]
    cost_rows = [
        (
            kind,
            num(v["tokens_per_task"], 0),
            num(v["completion_tokens_per_attempt"], 0),
            num(v["latency_s_mean"]),
            num(v["seconds_per_task"]),
        )
        for kind, v in data["costs_by_kind"].items()
    ]
    cost_rows.append(
        (
            "all kinds",
            num(c["tokens_per_task"], 0),
            num(c["completion_tokens_per_attempt"], 0),
            num(c["latency_s_mean"]),
            num(c["seconds_per_task"]),
        )
    )
    html["costs"] = table(
        [
            "kind",
            "tokens / task",
            "completion tokens / attempt",
            "model latency s (mean)",
            "seconds / task",
        ],
        cost_rows,
        numeric=(1, 2, 3, 4),
    ) + (
        f'<p class="note">latency p50 {num(c["latency_s_p50"])} s, '
        f"p95 {num(c['latency_s_p95'])} s; "
        f"{c['cached']} answers from the response cache</p>"
    )

    tm = data["text_metrics"]
    names = [m["name"] for m in tm["metrics"]]
    if tm["scored_attempts"]:
        svg = plots.grouped_bars_svg(
            names,
            {
                "passing attempts": [m["mean_passing"] for m in tm["metrics"]],
                "failing attempts": [m["mean_failing"] for m in tm["metrics"]],
            },
            title="text metrics: mean on passing vs failing attempts",
            ylabel="mean score",
            name="text-metrics",
        )
        rows = [
            (
                m["name"],
                m["version"],
                m["summary"],
                num(m["mean"], 3),
                num(m["mean_passing"], 3),
                num(m["mean_failing"], 3),
            )
            for m in tm["metrics"]
        ]
        body = figure(svg) + table(
            ["metric", "version", "what", "mean", "mean (passing)", "mean (failing)"],
            rows,
            numeric=(3, 4, 5),
        )
    else:
        body = '<p class="note">no attempt with a reference to score</p>'
    note = f'<p class="note">{esc(tm["note"])}</p>' if tm["note"] else ""
    html["text-metrics"] = (
        '<p class="note">Secondary: how much the answer\'s text resembles the reference. '
        "The grade above is what counts; <code>kubebench bench metrics</code> shows how "
        "often these metrics disagree with it.</p>" + body + note
    )

    fails = data["failed_attempts"]
    if fails:
        rows = []
        for a in fails:
            link = f'<a href="#{esc(a["anchor"])}">{esc(a["attempt_key"])}</a>'
            answer = (
                f"<details><summary>answer</summary><pre>{esc(a['answer_excerpt'])}</pre></details>"
            )
            rows.append(
                (link, esc(a["kind"]), esc(a["tier"]), esc(a["stage"]), esc(a["reason"]) + answer)
            )
        html["failed-attempts"] = (
            f'<p class="note">{len(fails)} failed attempts; each row links to itself '
            "(<code>#attempt-…</code>).</p>"
            + table(
                ["attempt", "kind", "tier", "stage", "first failing reason"],
                rows,
                row_ids=[a["anchor"] for a in fails],
                raw=True,
            )
        )
    else:
        html["failed-attempts"] = '<p class="note">no failed attempts</p>'

    rates_s = data["rates"]["success"]
    subtitle = (
        f"{p['model_id']} on {p['split']} ({p['planned_tasks']} tasks × {p['samples']}): "
        f"success {pct(rates_s['rate'])}"
    )
    sections = [(sid, name, html[sid]) for sid, name in SECTIONS]
    return page(f"KubeBench report — {p['run_id']}", subtitle, sections)


# -- Markdown ----------------------------------------------------------------------------


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(data: dict[str, Any], *, max_failures: int = 50) -> str:
    """The report as Markdown (no plots; the same tables)."""
    p = data["provenance"]
    out = [f"# KubeBench report — {p['run_id']}", "", _status_line(data), "", "## Provenance", ""]
    out.append(_md_table(["", ""], [[k, v] for k, v in _provenance_pairs(p)]))
    out += ["", "## Rates", ""]
    rows = [[RATE_LABELS[k], rate_text(v)] for k, v in data["rates"].items()]
    rows.append(["format errors (no YAML / unparsable)", rate_text(data["format_errors"])])
    out.append(_md_table(["measure", "value"], rows))
    h = data["heatmap"]
    cells = {(c["kind"], c["tier"]): rate_text(c) for c in h["cells"]}
    out += ["", "## Success by kind × tier (95 % Wilson intervals)", ""]
    out.append(
        _md_table(
            ["kind", *h["tiers"]],
            [
                [
                    kind,
                    *(cells.get((kind, t), "") for t in h["tiers"]),
                ]
                for kind in h["kinds"]
            ],
        )
    )
    f = data["failure_stages_by_kind"]
    out += ["", "## Where attempts fail", ""]
    out.append(
        _md_table(
            ["kind", *f["stages"]],
            [[k, *(v[s] for s in f["stages"])] for k, v in f["kinds"].items()],
        )
    )
    if data["pass_k"]:
        out += ["", "## pass@k / pass^k", ""]
        out.append(
            _md_table(
                ["k", "pass@k", "pass^k"],
                [[pk["k"], pct(pk["pass_at_k"]), pct(pk["pass_hat_k"])] for pk in data["pass_k"]],
            )
        )
    for j in data["judge_details"]:
        out += ["", f"## Judge {j['judge_id']}", ""]
        out.append(
            _md_table(
                ["criterion", "1", "2", "3", "4", "5", "mean"],
                [
                    [c, *(d[str(s)] for s in range(1, 6)), num(j["criterion_means"].get(c))]
                    for c, d in j["criteria"].items()
                ],
            )
        )
        out.append(f"\nmean overall score {num(j['overall_score_mean'], 3)}")
    c = data["costs"]
    out += ["", "## Tokens and time", ""]
    out.append(
        _md_table(
            ["tokens / task", "latency s (mean)", "seconds / task"],
            [[num(c["tokens_per_task"], 0), num(c["latency_s_mean"]), num(c["seconds_per_task"])]],
        )
    )
    out += ["", "## Text metrics (secondary)", ""]
    out.append(
        _md_table(
            ["metric", "mean", "mean (passing)", "mean (failing)"],
            [
                [m["name"], num(m["mean"], 3), num(m["mean_passing"], 3), num(m["mean_failing"], 3)]
                for m in data["text_metrics"]["metrics"]
            ],
        )
    )
    fails = data["failed_attempts"]
    out += ["", f"## Failed attempts ({len(fails)})", ""]
    out.append(
        _md_table(
            ["attempt", "kind", "tier", "stage", "first failing reason"],
            [
                [a["attempt_key"], a["kind"], a["tier"], a["stage"], a["reason"][:300]]
                for a in fails[:max_failures]
            ],
        )
    )
    if len(fails) > max_failures:
        out.append(f"\n… and {len(fails) - max_failures} more (`--format json` lists them all)")
    return "\n".join(out) + "\n"


# -- terminal ----------------------------------------------------------------------------


def render_text_extras(data: dict[str, Any], *, max_failures: int = 15) -> RenderableType:
    """What the terminal report adds to the summary tables: intervals, failure stages,
    pass^k, text metrics and the first failed attempts."""
    parts: list[RenderableType] = []
    rates = Table(title="rates with 95 % Wilson intervals", title_justify="left")
    rates.add_column("measure")
    rates.add_column("value", justify="right")
    for k, v in data["rates"].items():
        rates.add_row(RATE_LABELS[k], rate_text(v))
    rates.add_row("format errors (no YAML / unparsable)", rate_text(data["format_errors"]))
    parts.append(rates)
    f = data["failure_stages_by_kind"]
    used = [s for s in f["stages"] if any(f["kinds"][k][s] for k in f["kinds"])]
    if used:
        stages = Table(title="where attempts fail", title_justify="left")
        stages.add_column("kind")
        for s in used:
            stages.add_column(s, justify="right")
        for kind, counts in f["kinds"].items():
            stages.add_row(kind, *(str(counts[s]) for s in used))
        parts.append(stages)
    if data["pass_k"]:
        pk = Table(title="pass@k / pass^k", title_justify="left")
        for name in ("k", "pass@k", "pass^k"):
            pk.add_column(name, justify="right")
        for row in data["pass_k"]:
            pk.add_row(str(row["k"]), pct(row["pass_at_k"]), pct(row["pass_hat_k"]))
        parts.append(pk)
    tm = Table(title="text metrics (secondary)", title_justify="left")
    for name in ("metric", "mean", "passing", "failing"):
        tm.add_column(name, justify="left" if name == "metric" else "right")
    for m in data["text_metrics"]["metrics"]:
        tm.add_row(
            m["name"], num(m["mean"], 3), num(m["mean_passing"], 3), num(m["mean_failing"], 3)
        )
    parts.append(tm)
    fails = data["failed_attempts"]
    if fails:
        ft = Table(title=f"failed attempts ({len(fails)})", title_justify="left")
        for name in ("attempt", "stage", "first failing reason"):
            ft.add_column(name, overflow="fold")
        for a in fails[:max_failures]:
            ft.add_row(a["attempt_key"], a["stage"], a["reason"][:200])
        if len(fails) > max_failures:
            ft.caption = f"… {len(fails) - max_failures} more: --format json or html"
        parts.append(ft)
    return Group(*parts)
