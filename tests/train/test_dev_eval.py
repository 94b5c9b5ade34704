"""`--eval-tasks`: checkpoints graded on dev tasks through the runner, on the real grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.cluster.kubeconfig import Connection
from kubebench.errors import UserError
from kubebench.models.local_loading import release_local_models
from kubebench.tasks.loader import load_tasks
from kubebench.train.dev_eval import DevTasks, evaluate_checkpoints, parse_eval_tasks
from tests.train.conftest import write_config

runner = CliRunner()


def test_the_eval_spec_is_dev_only() -> None:
    assert parse_eval_tasks("dev") == DevTasks(None)
    assert parse_eval_tasks("dev:stratified 2") == DevTasks(2)
    assert parse_eval_tasks("dev:stratified=3") == DevTasks(3)
    with pytest.raises(UserError, match="never uses the test split"):
        parse_eval_tasks("test:stratified 5")
    with pytest.raises(UserError, match="use dev"):
        parse_eval_tasks("dev:some")


def test_checkpoints_are_graded_on_dev_tasks(
    tmp_path: Path, tiny_base: Path, memorise_data: Path, connection: Connection
) -> None:
    config = write_config(tmp_path, tiny_base, memorise_data, max_steps=4, eval_steps=2)
    result = runner.invoke(
        app, ["train", str(config), "--out", str(tmp_path / "run"), "--no-analyze"]
    )
    assert result.exit_code == 0, result.output
    data = evaluate_checkpoints(
        tmp_path / "run", DevTasks(1), connection, checkpoints=["best", "last"]
    )
    cells = {(t.category, t.tier) for t in load_tasks("dev")}
    labels = [row["label"] for row in data["results"]]
    assert labels[0] == "base" and set(labels[1:]) <= {"checkpoint-2", "checkpoint-4"}
    for row in data["results"]:
        assert row["attempts"] == len(cells) and row["ungraded"] == 0
        meta = json.loads((Path(row["run_dir"]) / "run.json").read_text())
        assert meta["split"] == "dev"
        if row["step"] is not None:
            assert row["model_id"].endswith(
                f"adapter={tmp_path / 'run'}/checkpoints/{row['label']}"
            )
    assert data["best"] in labels[1:]
    assert release_local_models() == 0  # each graded model was released after its run
    assert json.loads((tmp_path / "run" / "dev_eval.json").read_text()) == data
