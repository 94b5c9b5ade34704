"""Loss-curve analysis of a training run: the series, the findings, the best checkpoint.

Findings (each with the step it starts at and the evidence):
- `divergence`: a NaN/inf loss or gradient norm, or a training loss more than k σ above
  the mean of the previous window of logs (a spike);
- `overfitting`: validation loss rising N evaluations in a row while training loss falls;
- `plateau`: training loss improving less than a set share over the second half;
- `lr_too_high`: a spike or NaN while the learning rate is near its peak, or a training
  loss that ends above where it began.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.train.run_dir import RunDir, read_metrics


@dataclass(frozen=True)
class Thresholds:
    spike_sigma: float = defaults.TRAIN_SPIKE_SIGMA
    spike_window: int = defaults.TRAIN_SPIKE_WINDOW
    overfit_evals: int = defaults.TRAIN_OVERFIT_EVALS
    plateau_min_improvement: float = defaults.TRAIN_PLATEAU_MIN_IMPROVEMENT


@dataclass
class Series:
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: int, value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        self.steps.append(step)
        self.values.append(number)


@dataclass
class Finding:
    kind: str  # divergence | overfitting | plateau | lr_too_high
    step: int | None
    detail: str


@dataclass
class Analysis:
    run_dir: str
    train_loss: Series
    eval_loss: Series
    learning_rate: Series
    grad_norm: Series
    findings: list[Finding]
    best_eval_step: int | None
    best_eval_loss: float | None
    best_checkpoint: str | None
    summary: dict[str, Any]
    plots: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


def collect_series(rows: list[dict[str, Any]]) -> dict[str, Series]:
    series = {name: Series() for name in ("loss", "eval_loss", "learning_rate", "grad_norm")}
    # A resumed run re-logs nothing twice (metrics past the checkpoint are dropped), but
    # keep the last value per step anyway.
    latest: dict[tuple[str, int], Any] = {}
    for row in rows:
        for name in series:
            if name in row:
                latest[(name, row["step"])] = row[name]
    for (name, step), value in sorted(latest.items(), key=lambda item: item[0][1]):
        series[name].add(step, value)
    return series


def _finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def find_non_finite(name: str, series: Series) -> Finding | None:
    for step, value in zip(series.steps, series.values, strict=True):
        if not _finite(value):
            return Finding("divergence", step, f"{name} is {value} at step {step}")
    return None


def find_spikes(series: Series, th: Thresholds) -> list[tuple[int, float, float]]:
    """(step, value, σ above the previous window's mean) for each spike."""
    spikes = []
    values = series.values
    for i in range(th.spike_window, len(values)):
        window = [v for v in values[i - th.spike_window : i] if _finite(v)]
        if len(window) < 3 or not _finite(values[i]):
            continue
        mean, spread = statistics.fmean(window), statistics.pstdev(window)
        spread = max(spread, 1e-3 * abs(mean), 1e-8)
        sigmas = (values[i] - mean) / spread
        if sigmas > th.spike_sigma:
            spikes.append((series.steps[i], values[i], sigmas))
    return spikes


def smoothed(values: list[float], width: int = 3) -> list[float]:
    out = []
    for i in range(len(values)):
        chunk = [v for v in values[max(0, i - width + 1) : i + 1] if _finite(v)]
        out.append(statistics.fmean(chunk) if chunk else math.nan)
    return out


def value_at(series: Series, step: int) -> float | None:
    """The smoothed series' value at the last log at or before `step`."""
    smooth = smoothed(series.values)
    found = None
    for s, v in zip(series.steps, smooth, strict=True):
        if s <= step:
            found = v
    return found


def find_overfitting(train: Series, evals: Series, th: Thresholds) -> Finding | None:
    n = th.overfit_evals
    values = evals.values
    for end in range(n, len(values)):
        start = end - n
        rising = all(values[i + 1] > values[i] for i in range(start, end))
        if not rising:
            continue
        before = value_at(train, evals.steps[start])
        after = value_at(train, evals.steps[end])
        if before is not None and after is not None and after < before:
            return Finding(
                "overfitting",
                evals.steps[start],
                f"validation loss rose {n} evaluations in a row "
                f"({values[start]:.4f} at step {evals.steps[start]} → {values[end]:.4f} at "
                f"step {evals.steps[end]}) while training loss fell ({before:.4f} → {after:.4f})",
            )
    return None


def find_plateau(train: Series, th: Thresholds) -> Finding | None:
    values = [v for v in smoothed(train.values) if _finite(v)]
    if len(values) < 6:
        return None
    half = len(values) // 2
    start, end = values[half], values[-1]
    if start <= 0:
        return None
    improvement = (start - end) / start
    if improvement < th.plateau_min_improvement:
        return Finding(
            "plateau",
            train.steps[half],
            f"training loss {'improved' if improvement >= 0 else 'rose'} "
            f"{abs(improvement) * 100:.2f} % over the second half "
            f"({start:.4f} → {end:.4f}; threshold {th.plateau_min_improvement * 100:g} %)",
        )
    return None


def find_lr_too_high(
    train: Series, lr: Series, divergence: list[Finding], spikes: list[tuple[int, float, float]]
) -> Finding | None:
    peak = max((v for v in lr.values if _finite(v)), default=None)
    events = [(f.step, "non-finite loss") for f in divergence if f.step is not None]
    events += [(step, f"a {sigmas:.1f} σ spike") for step, _, sigmas in spikes]
    for step, what in sorted(events):
        at = value_at(lr, step) if lr.steps else None
        if peak and at is not None and at >= 0.5 * peak:
            return Finding(
                "lr_too_high",
                step,
                f"{what} at step {step} with the learning rate at {at:.3g} "
                f"({at / peak * 100:.0f} % of its peak {peak:.3g}); lower learning_rate",
            )
    smooth = [v for v in smoothed(train.values) if _finite(v)]
    if len(smooth) >= 6 and smooth[-1] > smooth[0] * 1.05:
        return Finding(
            "lr_too_high",
            train.steps[-1],
            f"training loss ended above where it began ({smooth[0]:.4f} → {smooth[-1]:.4f}); "
            "lower learning_rate",
        )
    return None


def analyze_rows(
    rows: list[dict[str, Any]],
    *,
    checkpoints: dict[int, Path] | None = None,
    thresholds: Thresholds | None = None,
    run_dir: str = "",
) -> Analysis:
    th = thresholds or Thresholds()
    series = collect_series(rows)
    train, evals = series["loss"], series["eval_loss"]
    lr, grad = series["learning_rate"], series["grad_norm"]
    if not train.values:
        raise UserError(f"{run_dir or 'the run'} has no training loss logged yet")
    findings: list[Finding] = []
    divergence = [
        f
        for f in (
            find_non_finite("training loss", train),
            find_non_finite("validation loss", evals),
            find_non_finite("gradient norm", grad),
        )
        if f
    ]
    spikes = find_spikes(train, th)
    findings.extend(divergence)
    if spikes:
        step, value, sigmas = spikes[0]
        findings.append(
            Finding(
                "divergence",
                step,
                f"training loss spiked to {value:.4f} at step {step}, {sigmas:.1f} σ above the "
                f"previous {th.spike_window} logs (threshold {th.spike_sigma:g} σ); "
                f"{len(spikes)} spike(s) in all",
            )
        )
    for finder in (
        lambda: find_overfitting(train, evals, th),
        lambda: find_plateau(train, th),
        lambda: find_lr_too_high(train, lr, divergence, spikes),
    ):
        if found := finder():
            findings.append(found)
    best_step = best_loss = None
    finite_evals = [(v, s) for s, v in zip(evals.steps, evals.values, strict=True) if _finite(v)]
    if finite_evals:
        best_loss, best_step = min(finite_evals)
    best_checkpoint = None
    if best_step is not None and checkpoints:
        if best_step in checkpoints:
            best_checkpoint = str(checkpoints[best_step])
        else:  # the closest saved one at or before the best evaluation
            earlier = [s for s in checkpoints if s <= best_step]
            best_checkpoint = str(checkpoints[max(earlier)]) if earlier else None
    finite_train = [v for v in train.values if _finite(v)]
    summary = {
        "steps": max(train.steps),
        "train_loss_first": finite_train[0] if finite_train else None,
        "train_loss_last": finite_train[-1] if finite_train else None,
        "train_loss_min": min(finite_train) if finite_train else None,
        "eval_loss_first": evals.values[0] if evals.values else None,
        "eval_loss_last": evals.values[-1] if evals.values else None,
        "evaluations": len(evals.values),
        "lr_peak": max(lr.values) if lr.values else None,
        "grad_norm_max": max((v for v in grad.values if _finite(v)), default=None),
    }
    return Analysis(
        run_dir=run_dir,
        train_loss=train,
        eval_loss=evals,
        learning_rate=lr,
        grad_norm=grad,
        findings=findings,
        best_eval_step=best_step,
        best_eval_loss=best_loss,
        best_checkpoint=best_checkpoint,
        summary=summary,
    )


def analyze_run(run_dir: Path, thresholds: Thresholds | None = None) -> Analysis:
    run = RunDir(run_dir)
    if not run.metrics.is_file():
        raise UserError(f"{run_dir} has no metrics.jsonl", hint="pass a kubebench train run folder")
    return analyze_rows(
        read_metrics(run.metrics),
        checkpoints=run.checkpoint_steps(),
        thresholds=thresholds,
        run_dir=str(run_dir),
    )


def render_text(analysis: Analysis) -> str:
    s = analysis.summary
    lines = [f"run {analysis.run_dir}: {s['steps']} steps, {s['evaluations']} evaluations"]

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.4g}"

    lines.append(
        f"train loss {fmt(s['train_loss_first'])} → {fmt(s['train_loss_last'])} "
        f"(min {fmt(s['train_loss_min'])}); validation loss {fmt(s['eval_loss_first'])} → "
        f"{fmt(s['eval_loss_last'])}; lr peak {fmt(s['lr_peak'])}; "
        f"grad norm max {fmt(s['grad_norm_max'])}"
    )
    if analysis.best_eval_step is not None:
        where = analysis.best_checkpoint or "no checkpoint saved at or before it"
        lines.append(
            f"best validation loss {analysis.best_eval_loss:.4f} at step "
            f"{analysis.best_eval_step}: {where}"
        )
    if analysis.healthy:
        lines.append("healthy: no divergence, overfitting, plateau or too-high learning rate")
    for finding in analysis.findings:
        lines.append(f"{finding.kind}: {finding.detail}")
    lines.extend(f"plot: {p}" for p in analysis.plots)
    return "\n".join(lines)
