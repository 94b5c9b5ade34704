"""Loss-curve plots of an analysed run: PNG and SVG, three panels sharing the step axis."""

from __future__ import annotations

import math
from pathlib import Path

from kubebench.train.analysis import Analysis, Series

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILION = "#0072B2", "#E69F00", "#009E73", "#D55E00"


def _finite(series: Series) -> tuple[list[int], list[float]]:
    pairs = [(s, v) for s, v in zip(series.steps, series.values, strict=True) if math.isfinite(v)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_analysis(analysis: Analysis, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, (ax_loss, ax_lr, ax_grad) = plt.subplots(
        3, 1, figsize=(8, 8), sharex=True, height_ratios=(2, 1, 1)
    )
    steps, values = _finite(analysis.train_loss)
    ax_loss.plot(steps, values, color=BLUE, label="training loss", linewidth=1.2)
    steps, values = _finite(analysis.eval_loss)
    if steps:
        ax_loss.plot(steps, values, color=ORANGE, marker="o", markersize=3, label="validation loss")
    if analysis.best_eval_step is not None:
        ax_loss.axvline(
            analysis.best_eval_step,
            color=GREEN,
            linestyle="--",
            linewidth=1,
            label=f"best validation (step {analysis.best_eval_step})",
        )
    for finding in analysis.findings:
        if finding.step is not None:
            ax_loss.axvline(finding.step, color=VERMILION, linestyle=":", linewidth=1)
            ax_loss.annotate(
                finding.kind,
                (finding.step, 1.0),
                xycoords=("data", "axes fraction"),
                color=VERMILION,
                fontsize=8,
                rotation=90,
                va="top",
            )
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_loss.grid(alpha=0.3)
    steps, values = _finite(analysis.learning_rate)
    ax_lr.plot(steps, values, color=GREEN)
    ax_lr.set_ylabel("learning rate")
    ax_lr.grid(alpha=0.3)
    steps, values = _finite(analysis.grad_norm)
    ax_grad.plot(steps, values, color=VERMILION)
    ax_grad.set_ylabel("gradient norm")
    ax_grad.set_xlabel("optimizer step")
    ax_grad.grid(alpha=0.3)
    fig.suptitle(
        "kubebench train: "
        + (
            "healthy"
            if analysis.healthy
            else ", ".join(sorted({f.kind for f in analysis.findings}))
        )
    )
    fig.tight_layout()
    paths = [out_dir / "curves.png", out_dir / "curves.svg"]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths
