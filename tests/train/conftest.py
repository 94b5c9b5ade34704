"""Fixtures of the training tests: a tiny random Llama and a memorisable chat dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("trl")

from tests.models.tiny_model import build_tiny_model

SYSTEM = "make Kubernetes yes"
# Prompt → answer pairs in the tiny tokenizer's vocabulary: small enough to memorise.
PAIRS = [
    ("create a ConfigMap named web", "kind : ConfigMap metadata : name : web data : key : value"),
    ("make a Secret named api", "kind : Secret metadata : name : api namespace : prod"),
    ("add a Role named team", "kind : Role metadata : name : team rules : - verbs : get list"),
    ("create a Namespace called prod", "kind : Namespace metadata : name : prod labels : app"),
    ("please add a ServiceAccount named app", "kind : ServiceAccount metadata : name : app"),
    ("make a ClusterRole named web", "kind : ClusterRole rules : - resources : pods services"),
]


def conversation(user: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=3)


@pytest.fixture(scope="session")
def memorise_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rows = "".join(json.dumps(conversation(u, a)) + "\n" for u, a in PAIRS)
    (folder / "train.jsonl").write_text(rows, encoding="utf-8")
    (folder / "validation.jsonl").write_text(rows, encoding="utf-8")
    (folder / "DATASET.md").write_text("# tiny memorisation set\n", encoding="utf-8")
    return folder


def write_config(folder: Path, base: Path, data: Path, **settings: object) -> Path:
    config = {
        "base_model": f"hf:{base}",
        "dataset": str(data),
        "method": "lora",
        "lora": {"r": 16, "alpha": 64, "dropout": 0.0},
        "max_steps": 40,
        "learning_rate": 0.005,
        "lr_scheduler": "constant",
        "warmup": 0,
        "batch_size": 6,
        "grad_accumulation": 1,
        "eval_steps": 10,
        "logging_steps": 2,
        "max_length": 64,
        "device": "cpu",
        **settings,
    }
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
