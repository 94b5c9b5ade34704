"""`kubebench train` end to end on a tiny random Llama: loss, mask, kill and resume, export."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.registry import create_provider
from kubebench.train.dataset import card_sha256
from kubebench.train.run_dir import RunDir, read_metrics
from tests.train.conftest import PAIRS, SYSTEM, write_config
from tests.train.dying_run import train_then_die

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def train_cli(*args: str) -> str:
    result = runner.invoke(app, ["train", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def losses(run: RunDir, key: str) -> list[float]:
    return [row[key] for row in read_metrics(run.metrics) if key in row]


async def greedy_answers(model_id: str) -> list[str]:
    provider = create_provider(model_id, device="cpu")
    config = GenerationConfig(max_tokens=16)
    texts = []
    for user, _ in PAIRS:
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=user),
        ]
        texts.append((await provider.complete(messages, config)).text)
    await provider.aclose()
    return texts


def test_train_learns_masks_the_prompt_and_exports_loadable_models(
    tmp_path: Path, tiny_base: Path, memorise_data: Path
) -> None:
    config = write_config(tmp_path, tiny_base, memorise_data)
    output = train_cli(str(config), "max_steps=40", "--out", str(tmp_path / "run"))
    run = RunDir(tmp_path / "run")
    assert "trained 40 steps" in output

    train_loss, eval_loss = losses(run, "loss"), losses(run, "eval_loss")
    # A 64-wide random model keeps its logits flat: the loss falls slowly, argmax fast.
    assert train_loss[-1] < 0.8 * train_loss[0], train_loss
    assert losses(run, "mean_token_accuracy")[-1] >= 0.9
    assert eval_loss[-1] < eval_loss[0] and len(eval_loss) == 4

    record = run.read_record()
    mask = record["loss_mask"]
    assert 0 < mask["supervised_tokens"] < mask["total_tokens"]
    assert mask["dropped_fully_masked"] == 0
    # The first supervised tokens are the first answer, not the system or user turn.
    assert mask["first_supervised_text"].startswith(PAIRS[0][1])
    assert "completion_only_loss" in mask["mechanism"]
    assert record["dataset"]["card_sha256"] == card_sha256(memorise_data)
    assert {"torch", "transformers", "trl", "peft"} <= record["packages"].keys()
    assert "git_revision" in record and record["config"]["max_steps"] == 40
    assert "max_steps: 40" in run.config.read_text()
    assert sorted(run.checkpoint_steps()) == [10, 20, 30, 40]

    assert (run.adapter / "adapter_model.safetensors").is_file()
    assert (run.adapter / "adapter_config.json").is_file()
    assert (run.merged / "model.safetensors").is_file()
    assert (run.merged / "chat_template.jinja").is_file() or "chat_template" in (
        run.merged / "tokenizer_config.json"
    ).read_text()
    card = run.card.read_text()
    assert "## Hyperparameters" in card and "lora" in card
    assert (run.merged / "README.md").read_text() == card
    assert (run.analysis / "curves.png").stat().st_size > 0
    assert (run.analysis / "curves.svg").read_text().lstrip().startswith("<?xml")

    adapter_id = record["exported"]["model_id_adapter"]
    assert adapter_id == f"hf:{tiny_base}?adapter={run.adapter}"
    tuned_adapter = asyncio.run(greedy_answers(adapter_id))
    tuned_merged = asyncio.run(greedy_answers(f"hf:{run.merged}"))
    base = asyncio.run(greedy_answers(f"hf:{tiny_base}"))
    assert tuned_adapter == tuned_merged
    assert tuned_adapter != base
    # Memorised: most answers come back word for word.
    assert (
        sum(text.strip().startswith(a) for text, (_, a) in zip(tuned_adapter, PAIRS, strict=True))
        >= 4
    )


def test_a_killed_run_resumes_from_its_checkpoint(
    tmp_path: Path, tiny_base: Path, memorise_data: Path
) -> None:
    config = write_config(tmp_path, tiny_base, memorise_data, max_steps=12, eval_steps=3)
    run = RunDir(tmp_path / "run")
    child = multiprocessing.get_context("spawn").Process(
        target=train_then_die, args=(str(config), str(run.root), 9)
    )
    child.start()
    child.join(300)
    assert child.exitcode == -9  # killed, not finished
    assert sorted(run.checkpoint_steps()) == [3, 6]
    assert max(row["step"] for row in read_metrics(run.metrics)) == 8  # logged past it

    output = train_cli("--resume", str(run.root))
    assert "resumed from checkpoint-6" in output and "trained 12 steps" in output
    first, second = run.read_record()["segments"]
    assert first["finished"] is False and first["start_step"] == 0
    assert second["resumed_from"] == "checkpoint-6" and second["start_step"] == 6
    assert second["end_step"] == 12
    # The second process trained 6 steps of 6 examples, not 12: it went on from step 6.
    per_step = first_tokens = read_metrics(run.metrics)[0]["num_input_tokens_seen"]
    assert first_tokens > 0 and second["input_tokens"] == 6 * per_step
    steps = [row["step"] for row in read_metrics(run.metrics) if "loss" in row]
    assert steps == sorted(set(steps)) and steps[-1] == 12
    assert sorted(run.checkpoint_steps()) == [3, 6, 9, 12]

    exported = train_cli("export", str(run.root), "--checkpoint", "last", "--no-merged")
    assert f"adapter: {run.root / 'export-12' / 'adapter'}" in exported
    adapter = run.root / "export-12" / "adapter"
    assert (adapter / "adapter_model.safetensors").read_bytes() == (
        run.checkpoint_steps()[12] / "adapter_model.safetensors"
    ).read_bytes()
    assert "Exported from checkpoint-12" in (adapter / "README.md").read_text()


def test_qlora_on_cpu_is_a_one_line_error_naming_lora(
    tmp_path: Path, tiny_base: Path, memorise_data: Path
) -> None:
    config = write_config(tmp_path, tiny_base, memorise_data)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "kubebench.cli.main", "train", str(config), "method=qlora",
         "device=auto", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "qlora needs a CUDA device" in lines[0] and "lora" in lines[0]
    assert not (tmp_path / "run").exists()


def test_bad_config_and_resume_mismatch_are_user_errors(
    tmp_path: Path, tiny_base: Path, memorise_data: Path
) -> None:
    config = write_config(tmp_path, tiny_base, memorise_data, max_steps=2, eval_steps=1)
    bad = runner.invoke(app, ["train", str(config), "lora.rank=4"])
    assert bad.exit_code != 0 and "lora.rank" in str(bad.exception)
    bad = runner.invoke(app, ["train", str(config), "learning_rate=-1"])
    assert "learning_rate" in str(bad.exception)
    train_cli(str(config), "--out", str(tmp_path / "run"), "--no-analyze")
    mismatch = runner.invoke(
        app, ["train", str(config), "max_steps=5", "--resume", str(tmp_path / "run")]
    )
    assert mismatch.exit_code != 0 and "max_steps" in str(mismatch.exception)
    assert json.loads((tmp_path / "run" / "train.json").read_text())["segments"][0]["finished"]


def test_cpu_bf16_autocasts_and_group_by_length_groups_batches(
    tmp_path: Path, tiny_base: Path, memorise_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    import transformers.trainer

    dtypes: set[torch.dtype] = set()
    linear_forward = torch.nn.Linear.forward

    def recording_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        out = linear_forward(self, x)
        if torch.is_grad_enabled():
            dtypes.add(out.dtype)
        return out

    samplers: list[object] = []

    class RecordingSampler(transformers.trainer.LengthGroupedSampler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            samplers.append(self)

    monkeypatch.setattr(torch.nn.Linear, "forward", recording_forward)
    monkeypatch.setattr(transformers.trainer, "LengthGroupedSampler", RecordingSampler)
    config = write_config(
        tmp_path, tiny_base, memorise_data, max_steps=20, cpu_bf16=True, group_by_length=True,
        batch_size=2, export_merged=False,
    )  # fmt: skip
    output = train_cli(str(config), "--out", str(tmp_path / "run"))
    run = RunDir(tmp_path / "run")
    assert "float32 with bfloat16 autocast" in " ".join(output.split())
    assert "trained 20 steps" in output
    assert dtypes == {torch.bfloat16}, dtypes  # every training matmul ran in bfloat16
    assert samplers, "the training batches were not grouped by length"
    record = run.read_record()
    assert record["dtype"] == "float32" and record["autocast"] == "bfloat16"
    assert "bfloat16 autocast" in run.card.read_text()
    train_loss = losses(run, "loss")
    # Batches of 2 on the 64-wide model: 20 steps lower the loss by about a sixth.
    assert train_loss[-1] < 0.9 * train_loss[0], train_loss
