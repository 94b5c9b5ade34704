"""`kubebench train analyze` on planted curves: divergence and overfitting are flagged, a
healthy curve is not."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.train.analysis import analyze_rows

runner = CliRunner()


def curve(
    steps: int = 200,
    *,
    eval_every: int = 20,
    train=lambda s: 2.5 * math.exp(-s / 120) + 0.4,
    evals=lambda s: 2.6 * math.exp(-s / 120) + 0.5,
    seed: int = 0,
) -> list[dict]:
    """Logs every 2 steps (loss, lr, grad norm, small noise) and an eval every `eval_every`."""
    rng = random.Random(seed)
    rows = []
    for step in range(2, steps + 1, 2):
        lr = 2e-4 * min(1.0, step / 10) * (0.5 * (1 + math.cos(math.pi * step / steps)))
        rows.append(
            {
                "step": step,
                "loss": train(step) * (1 + rng.gauss(0, 0.01)),
                "learning_rate": lr,
                "grad_norm": 1.0 + rng.gauss(0, 0.05),
            }
        )
        if step % eval_every == 0:
            rows.append({"step": step, "eval_loss": evals(step)})
    return rows


def write_run(folder: Path, rows: list[dict], checkpoints: list[int]) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for step in checkpoints:
        ckpt = folder / "checkpoints" / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text("{}")
    return folder


def kinds(rows: list[dict]) -> set[str]:
    return {f.kind for f in analyze_rows(rows).findings}


def test_a_healthy_curve_raises_no_flag(tmp_path: Path) -> None:
    rows = curve()
    analysis = analyze_rows(rows)
    assert analysis.healthy, analysis.findings
    assert analysis.best_eval_step == 200

    run = write_run(tmp_path / "run", rows, [100, 200])
    result = runner.invoke(app, ["train", "analyze", str(run), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["healthy"] is True and data["findings"] == []
    assert data["best_checkpoint"].endswith("checkpoint-200")
    for name in ("curves.png", "curves.svg", "analysis.json", "analysis.txt"):
        assert (run / "analysis" / name).stat().st_size > 0


def test_a_planted_spike_and_a_nan_are_divergence() -> None:
    spiked = curve(train=lambda s: 9.0 if s == 40 else 2.5 * math.exp(-s / 120) + 0.4)
    analysis = analyze_rows(spiked)
    divergence = [f for f in analysis.findings if f.kind == "divergence"]
    assert divergence and divergence[0].step == 40
    # The spike came with the learning rate near its peak: lr_too_high names it too.
    assert "lr_too_high" in {f.kind for f in analysis.findings}

    nan = curve(train=lambda s: math.nan if s >= 150 else 2.5 * math.exp(-s / 120) + 0.4)
    found = [f for f in analyze_rows(nan).findings if f.kind == "divergence"]
    assert found and found[0].step == 150 and "nan" in found[0].detail


def test_a_planted_overfit_is_flagged_with_the_best_checkpoint(tmp_path: Path) -> None:
    # Validation loss bottoms out at step 80, then climbs while training loss keeps falling.
    rows = curve(evals=lambda s: 1.2 + 0.002 * (s - 80) ** 2 / 10)
    analysis = analyze_rows(rows)
    assert [f.kind for f in analysis.findings] == ["overfitting"]
    assert analysis.findings[0].step == 80
    assert analysis.best_eval_step == 80

    run = write_run(tmp_path / "run", rows, [40, 80, 120, 160, 200])
    result = runner.invoke(app, ["train", "analyze", str(run)])
    assert result.exit_code == 0
    assert "overfitting: validation loss rose 3 evaluations" in result.output
    assert "checkpoint-80" in result.output


def test_a_flat_curve_is_a_plateau_and_a_rising_one_a_too_high_lr() -> None:
    assert kinds(curve(train=lambda s: 2.0, evals=lambda s: 2.1)) == {"plateau"}
    rising = kinds(curve(train=lambda s: 1.0 + s / 100, evals=lambda s: 1.0 + s / 100))
    assert "lr_too_high" in rising


def test_analyze_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "analyze", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "no metrics.jsonl" in str(result.exception)
