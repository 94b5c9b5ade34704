"""The self-contained HTML page every report shares: inline CSS, inline SVG, no scripts,
no external resources (it opens offline and can be mailed as one file)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

_CSS = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5b5b5b; --line: #d9d9d9;
  --ok: #009E73; --bad: #D55E00; --band: #f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); margin: 0; background: white; }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 6px 28px; border-bottom: 1px solid var(--line); background: var(--band);
  position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; font-size: 13px; }
main { padding: 4px 28px 40px; max-width: 1280px; }
section { margin-top: 22px; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
h3 { font-size: 14px; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 9px; text-align: left;
  vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.kv th { width: 210px; }
.pass { color: var(--ok); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); font-size: 13px; }
.figure svg { max-width: 100%; height: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: var(--band); padding: 6px 8px; overflow-x: auto; max-width: 900px;
  white-space: pre-wrap; }
tr:target { background: #fff6d5; }
details summary { cursor: pointer; color: #0b5cad; }
"""


def esc(value: Any) -> str:
    return escape("" if value is None else str(value))


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f} %"


def rate_text(rate: dict[str, Any]) -> str:
    """ "42.0 % (21/50; 95 % CI 29.4–55.8 %)"."""
    if not rate["n"]:
        return "— (0 graded)"
    low, high = rate["ci95"]
    return f"{pct(rate['rate'])} ({rate['k']}/{rate['n']}; 95 % CI {pct(low)}–{pct(high)})"


def num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Sequence[int] = (),
    row_ids: Sequence[str] | None = None,
    css: str = "",
    raw: bool = False,
) -> str:
    """An HTML table; cells are escaped unless `raw` (callers that pass markup)."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for n, row in enumerate(rows):
        cells = "".join(
            (
                f'<td class="num">{c if raw else esc(c)}</td>'
                if i in numeric
                else f"<td>{c if raw else esc(c)}</td>"
            )
            for i, c in enumerate(row)
        )
        rid = f' id="{esc(row_ids[n])}"' if row_ids else ""
        body.append(f"<tr{rid}>{cells}</tr>")
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(pairs: Iterable[tuple[str, Any]], *, raw: bool = False) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v if raw else esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>'


def figure(svg: str, caption: str = "") -> str:
    cap = f'<p class="note">{esc(caption)}</p>' if caption else ""
    return f'<div class="figure">{svg}{cap}</div>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A whole HTML document: header, a nav of the sections, the sections."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(name)}</a>' for sid, name, _ in sections)
    body = "".join(section(sid, name, html) for sid, name, html in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
