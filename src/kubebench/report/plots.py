"""Plots of reports as inline SVG (matplotlib, Agg backend), colour-blind-safe.

Categorical colours are Okabe & Ito's eight; rates use cividis (sequential) and
differences PuOr (diverging), both readable with every common colour-vision deficiency.
Each function draws from the report's dict only, so every plotted number is in the JSON.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#000000",  # black
)
RATE_CMAP = "cividis"
DELTA_CMAP = "PuOr"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _figure(name: str, width: float, height: float) -> Iterator[tuple[Any, Any]]:
    plt = _pyplot()
    # Text stays text (searchable, crisp); the salt keeps element ids of the several SVGs
    # of one page apart and the output reproducible.
    with plt.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": name, "font.size": 9, "axes.titlesize": 10}
    ):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def to_svg(fig: Any) -> str:
    """The figure as an `<svg>` element (no XML prolog), ready to inline in HTML."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def save(fig: Any, path: str) -> None:
    fig.savefig(path, metadata={"Date": None} if path.endswith(".svg") else None, dpi=150)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def heatmap_svg(
    rows: Sequence[str],
    cols: Sequence[str],
    values: dict[tuple[str, str], float | None],
    labels: dict[tuple[str, str], str],
    *,
    title: str,
    diverging: bool = False,
    name: str = "heatmap",
) -> str:
    """A rows × cols grid coloured by value (rate 0..1, or difference −1..1), each cell
    labelled; cells without data are left blank."""
    import numpy as np

    grid = np.full((len(rows), len(cols)), np.nan)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            v = values.get((r, c))
            if v is not None:
                grid[i, j] = v
    height = 0.9 + 0.42 * max(len(rows), 1)
    with _figure(name, 1.9 + 1.45 * max(len(cols), 1), height) as (fig, ax):
        cmap, lo, hi = (DELTA_CMAP, -1.0, 1.0) if diverging else (RATE_CMAP, 0.0, 1.0)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.tick_params(length=0)
        ax.set_title(title, loc="left")
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                text = labels.get((r, c))
                if text is None:
                    continue
                v = grid[i, j]
                # Dark text on the light half of the colour map, light text on the dark.
                light = np.isnan(v) or (abs(v) < 0.5 if diverging else v > 0.55)
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if light else "white",
                )
        fig.colorbar(
            image,
            ax=ax,
            shrink=0.8,
            format=lambda x, _: f"{100 * x:+.0f}%" if diverging else f"{100 * x:.0f}%",
        )
        return to_svg(fig)


def rates_svg(rates: dict[str, dict[str, Any]], *, title: str, name: str = "rates") -> str:
    """Horizontal bars of rates with their 95 % intervals."""
    names = list(rates)
    with _figure(name, 6.0, 0.7 + 0.45 * len(names)) as (fig, ax):
        for i, key in enumerate(names):
            r = rates[key]
            value = r["rate"] or 0.0
            low, high = r["ci95"]
            ax.barh(i, value, color=OKABE_ITO[(4, 2, 0)[i % 3]], height=0.6)
            if low is not None:
                ax.errorbar(
                    value, i, xerr=[[value - low], [high - value]], color="black", capsize=3, lw=1
                )
            ax.text(
                min(value, 0.98) + 0.01,
                i + 0.28,
                f"{_pct(r['rate'])} ({r['k']}/{r['n']})",
                fontsize=8,
                va="center",
            )
        ax.set_yticks(range(len(names)), [n.replace("_", " ") for n in names])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.15)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_title(title, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        return to_svg(fig)


def stacked_bars_svg(
    rows: Sequence[str],
    series: Sequence[str],
    counts: dict[str, dict[str, int]],
    *,
    title: str,
    xlabel: str,
    colors: Sequence[str] = OKABE_ITO,
    name: str = "stacked",
) -> str:
    """One horizontal bar per row, stacked by series (counts), with a legend."""
    with _figure(name, 7.2, 1.1 + 0.38 * max(len(rows), 1)) as (fig, ax):
        left = [0.0] * len(rows)
        for s_index, s in enumerate(series):
            widths = [float(counts.get(r, {}).get(s, 0)) for r in rows]
            if not any(widths):
                continue
            ax.barh(
                range(len(rows)),
                widths,
                left=left,
                label=s,
                height=0.65,
                color=colors[s_index % len(colors)],
                edgecolor="white",
                linewidth=0.5,
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(range(len(rows)), rows)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        if any(left):
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        return to_svg(fig)


def pass_k_svg(points: list[dict[str, Any]], *, name: str = "passk") -> str:
    """pass@k (at least one of k passes) and pass^k (all k pass) against k."""
    ks = [p["k"] for p in points]
    with _figure(name, 5.5, 3.0) as (fig, ax):
        for key, label, color, marker in (
            ("pass_at_k", "pass@k (any of k passes)", OKABE_ITO[4], "o"),
            ("pass_hat_k", "pass^k (all k pass)", OKABE_ITO[5], "s"),
        ):
            ys = [p[key] for p in points]
            ax.plot(ks, ys, marker=marker, color=color, label=label)
            for k, y in zip(ks, ys, strict=True):
                if y is not None:
                    ax.annotate(
                        _pct(y),
                        (k, y),
                        textcoords="offset points",
                        xytext=(0, 6),
                        ha="center",
                        fontsize=7,
                        color=color,
                    )
        ax.set_xticks(ks)
        ax.set_xlabel("k (samples)")
        ax.set_ylim(-0.02, 1.1)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_title("pass@k and pass^k", loc="left")
        ax.legend(frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        return to_svg(fig)


def histogram_svg(
    edges: Sequence[float], counts: Sequence[int], *, title: str, xlabel: str, name: str = "hist"
) -> str:
    with _figure(name, 5.5, 2.6) as (fig, ax):
        widths = [b - a for a, b in pairwise(edges)]
        ax.bar(
            edges[:-1], counts, width=widths, align="edge", color=OKABE_ITO[1], edgecolor="white"
        )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("attempts")
        ax.set_title(title, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        return to_svg(fig)


def grouped_bars_svg(
    groups: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str,
    name: str = "grouped",
) -> str:
    """Bars per group, one colour per series (e.g. each text metric's mean on passing vs
    failing attempts)."""
    width = 0.8 / max(len(series), 1)
    with _figure(name, 6.5, 2.9) as (fig, ax):
        for s_index, (label, values) in enumerate(series.items()):
            xs = [i + (s_index - (len(series) - 1) / 2) * width for i in range(len(groups))]
            ys = [v or 0.0 for v in values]
            ax.bar(xs, ys, width=width, label=label, color=OKABE_ITO[(4, 0, 2, 6)[s_index % 4]])
            for x, v in zip(xs, values, strict=True):
                if v is not None:
                    ax.text(x, (v or 0) + 0.01, f"{v:.2f}", ha="center", fontsize=7)
        ax.set_xticks(range(len(groups)), groups)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.legend(frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        return to_svg(fig)


def differences_svg(
    labels: Sequence[str], diffs: Sequence[dict[str, Any]], *, title: str, name: str = "deltas"
) -> str:
    """Paired differences with their bootstrap 95 % intervals, one row per label."""
    with _figure(name, 6.0, 0.8 + 0.45 * max(len(labels), 1)) as (fig, ax):
        for i, d in enumerate(diffs):
            if d["delta"] is None:
                continue
            low, high = d["ci95"]
            ax.errorbar(
                d["delta"],
                i,
                xerr=[[d["delta"] - low], [high - d["delta"]]],
                fmt="o",
                color=OKABE_ITO[4],
                capsize=3,
            )
            ax.annotate(
                f"{100 * d['delta']:+.1f} pt",
                (d["delta"], i),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
            )
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ax.set_xlim(-1.05, 1.05)
        ax.set_xlabel("success difference (run − baseline)")
        ax.set_title(title, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        return to_svg(fig)


def _roc_points(
    positive: Sequence[float], negative: Sequence[float]
) -> tuple[list[float], list[float]]:
    """False- and true-positive rates at every threshold, from (0, 0) to (1, 1)."""
    thresholds = sorted({*positive, *negative}, reverse=True)
    xs, ys = [0.0], [0.0]
    for t in thresholds:
        xs.append(sum(v >= t for v in negative) / max(len(negative), 1))
        ys.append(sum(v >= t for v in positive) / max(len(positive), 1))
    xs.append(1.0)
    ys.append(1.0)
    return xs, ys


def distributions_figure(
    metrics: Sequence[str],
    positive: dict[str, Sequence[float]],
    negative: dict[str, Sequence[float]],
    *,
    title: str,
    positive_label: str,
    negative_label: str,
    extra_curves: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Any:
    """Two panels: each metric's ROC curve at telling positives from negatives, and box
    plots of its scores on both sets. Returns the figure (callers save it)."""
    plt = _pyplot()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "distributions", "font.size": 9}):
        fig, (roc, ax) = plt.subplots(
            1, 2, figsize=(11.5, 4.2), layout="constrained", width_ratios=[1, 1.7]
        )
    curves = dict(extra_curves or {})
    curves.update({m: (positive[m], negative[m]) for m in metrics})
    styles = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))]
    for i, (name, (pos, neg)) in enumerate(curves.items()):
        xs, ys = _roc_points(pos, neg)
        roc.plot(xs, ys, drawstyle="default", color=OKABE_ITO[(7, 0, 1, 2, 4, 5, 6)[i % 7]],
                 linestyle=styles[i % len(styles)], lw=1.6, label=name)  # fmt: skip
    roc.plot([0, 1], [0, 1], color="grey", lw=0.6)
    roc.set_xlabel("false-positive rate (wrong answers scored at or above the threshold)")
    roc.set_ylabel("true-positive rate (correct answers)")
    roc.set_title("ROC curves", loc="left", fontsize=10)
    roc.legend(frameon=False, fontsize=8, loc="lower right")
    roc.set_aspect("equal")
    roc.spines[["top", "right"]].set_visible(False)
    data, positions, colors = [], [], []
    for i, m in enumerate(metrics):
        for offset, values, color in ((-0.2, positive[m], OKABE_ITO[2]),
                                      (0.2, negative[m], OKABE_ITO[5])):  # fmt: skip
            data.append(list(values) or [float("nan")])
            positions.append(i + offset)
            colors.append(color)
    boxes = ax.boxplot(data, positions=positions, widths=0.34, patch_artist=True,
                       showfliers=True, flierprops={"markersize": 2}, showmeans=True,
                       meanprops={"marker": "D", "markerfacecolor": "white",
                                  "markeredgecolor": "black", "markersize": 4})  # fmt: skip
    for patch, color in zip(boxes["boxes"], colors, strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.85)
    for median in boxes["medians"]:
        median.set_color("black")
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("score (0–1); ◇ mean")
    ax.set_title(title, loc="left", fontsize=10)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=OKABE_ITO[2], label=positive_label),
                       Patch(color=OKABE_ITO[5], label=negative_label)],
              frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08),
              ncols=2)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def metrics_bench_figure(
    scores: dict[str, dict[str, list[float]]],
    rewrites: int,
    mutations: int,
    path: Any,
    grader: dict[str, list[float]] | None = None,
) -> None:
    """`kubebench bench metrics`'s plot: each text metric's scores on the rewrites (must
    pass) and the mutations (must fail), saved as SVG or PNG by the file's suffix."""
    names = list(scores)
    fig = distributions_figure(
        names,
        {n: scores[n]["correct"] for n in names},
        {n: scores[n]["incorrect"] for n in names},
        title="scores on answers that must pass (rewrites) and must fail (mutations)",
        positive_label=f"equivalent rewrites, must pass (n={rewrites})",
        negative_label=f"mutations, must fail (n={mutations})",
        extra_curves={"KubeBench grader": (grader["correct"], grader["incorrect"])}
        if grader
        else None,
    )
    try:
        save(fig, str(path))
    finally:
        _pyplot().close(fig)
