"""Write a run's analysis next to it: `analysis/analysis.json`, `.txt` and the plots."""

from __future__ import annotations

from pathlib import Path

from kubebench.train.analysis import Analysis, Thresholds, analyze_run, render_text
from kubebench.train.plots import plot_analysis
from kubebench.train.run_dir import RunDir, write_json_atomic


def write_analysis(
    run_dir: Path, thresholds: Thresholds | None = None, out_dir: Path | None = None
) -> Analysis:
    analysis = analyze_run(run_dir, thresholds)
    target = out_dir or RunDir(run_dir).analysis
    analysis.plots = [str(p) for p in plot_analysis(analysis, target)]
    write_json_atomic(target / "analysis.json", analysis.to_json())
    (target / "analysis.txt").write_text(render_text(analysis) + "\n", encoding="utf-8")
    return analysis
