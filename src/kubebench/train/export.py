"""Export a trained run: the adapter, the merged model, both loadable by `kubebench run`.

- `adapter/`: `adapter_model.safetensors` + `adapter_config.json` (+ the tokenizer),
  loaded with `--model "hf:BASE?adapter=RUN/adapter"` (or `embedded:...?adapter=`).
- `merged/`: the base weights with the adapter folded in, as safetensors, with the
  tokenizer and its chat template: `--model hf:RUN/merged`. The base is loaded again in
  float (never 4-bit, which would round the adapter away) for the merge.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kubebench.errors import UserError
from kubebench.train.base_model import BaseModelSource, load_base_model, training_dtype
from kubebench.train.config import TrainConfig
from kubebench.train.run_dir import RunDir

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")


def merge_adapter(source: BaseModelSource, adapter: Path, out: Path, *, dtype: str) -> Path:
    """Fold `adapter` into a fresh float copy of the base and save it to `out`."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter} is not a PEFT adapter folder (no adapter_config.json)")
    base = load_base_model(source, device="cpu", dtype=dtype, four_bit=False)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(adapter, local_files_only=True).save_pretrained(out)
    return out


def copy_adapter(checkpoint: Path, out: Path, tokenizer_from: Path | None = None) -> Path:
    """The adapter files of a checkpoint (and a tokenizer) as a standalone folder."""
    missing = [name for name in ADAPTER_FILES if not (checkpoint / name).is_file()]
    if missing:
        raise UserError(f"{checkpoint} holds no adapter ({', '.join(missing)} missing)")
    out.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copy2(checkpoint / name, out / name)
    for file in (tokenizer_from or checkpoint).glob("*"):
        if file.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy2(file, out / file.name)
    return out


def export_final(
    trainer: Any, tokenizer: Any, config: TrainConfig, source: BaseModelSource, run: RunDir
) -> list[Path]:
    """Write the final weights of a finished run; returns the folders written."""
    if config.method == "full":
        trainer.save_model(str(run.merged))
        tokenizer.save_pretrained(run.merged)
        return [run.merged]
    trainer.model.save_pretrained(run.adapter, safe_serialization=True)
    tokenizer.save_pretrained(run.adapter)
    written = [run.adapter]
    if config.export_merged:
        dtype = training_dtype(config.device if config.device != "auto" else "cpu")
        written.append(merge_adapter(source, run.adapter, run.merged, dtype=dtype))
    return written


def pick_checkpoint(run: RunDir, which: str) -> tuple[int, Path]:
    """`best` (lowest validation loss), `last`, or a step number."""
    steps = run.checkpoint_steps()
    if not steps:
        raise UserError(f"{run.root} has no saved checkpoint")
    if which == "last":
        step = max(steps)
    elif which == "best":
        from kubebench.train.analysis import analyze_run

        best = analyze_run(run.root).best_checkpoint
        if best is None:
            raise UserError(
                f"{run.root}: no validation loss at a saved checkpoint", hint="--checkpoint last"
            )
        step = int(Path(best).name.rpartition("-")[2])
    elif which.isdigit() and int(which) in steps:
        step = int(which)
    else:
        raise UserError(
            f"--checkpoint {which!r}: use best, last or one of {', '.join(map(str, steps))}"
        )
    return step, steps[step]


def export_checkpoint(
    run_dir: Path, which: str = "best", out: Path | None = None, *, merged: bool = True
) -> dict[str, Path]:
    """A checkpoint's adapter (and merged model) as standalone folders with the card."""
    from kubebench.train.base_model import resolve_base_model
    from kubebench.train.config import load_config

    run = RunDir(run_dir)
    record = run.read_record()
    config = load_config(run.config)
    step, folder = pick_checkpoint(run, which)
    target = out or run.root / f"export-{step}"
    written: dict[str, Path] = {}
    if config.method == "full":
        state = (
            "optimizer.pt",
            "scheduler.pt",
            "rng_state*",
            "training_args.bin",
            "trainer_state.json",
        )
        ignore = shutil.ignore_patterns(*state)
        shutil.copytree(folder, target / "merged", dirs_exist_ok=True, ignore=ignore)
        written["merged"] = target / "merged"
    else:
        source = resolve_base_model(config.base_model)
        written["adapter"] = copy_adapter(folder, target / "adapter")
        if merged:
            written["merged"] = merge_adapter(
                source, written["adapter"], target / "merged", dtype=record.get("dtype", "float32")
            )
    from kubebench.train.model_card import render_model_card

    card = render_model_card(run, record)
    card = card.replace("## Data", f"Exported from checkpoint-{step}.\n\n## Data", 1)
    for path in written.values():
        (path / "README.md").write_text(card, encoding="utf-8")
    return written
