"""`kubebench bench generation`: tokens/s of local generation, batched vs one at a time.

Both modes run the same prompts (dev-split tasks through the real prompt template) on
the same loaded model, through the `hf` provider's own batching code, in the same
process: one prompt at a time (batch size 1), then every prompt submitted concurrently
so the provider batches them. Greedy decoding, so both modes should give the same
answers; the count of identical answers is reported as a check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.models.hf import HFProvider
from kubebench.models.local_loading import LoadedModel

Progress = Callable[[str, int], None]  # (mode, completions finished so far)


@dataclass
class GenerationRun:
    """One mode of the benchmark."""

    mode: str
    completions: list[Completion]
    wall_s: float
    batch_sizes: list[int] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens or 0 for c in self.completions)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class GenerationBenchResult:
    model: dict[str, object]
    device: str
    hardware: str  # the GPU's name, or the CPU thread count torch uses
    load_s: float
    prompts: int
    max_tokens: int
    sequential: GenerationRun
    batched: GenerationRun

    @property
    def speedup(self) -> float:
        if not self.sequential.tokens_per_s:
            return 0.0
        return self.batched.tokens_per_s / self.sequential.tokens_per_s

    @property
    def identical_answers(self) -> int:
        pairs = zip(self.sequential.completions, self.batched.completions, strict=True)
        return sum(a.text == b.text for a, b in pairs)


def bench_conversations(count: int) -> list[list[ChatMessage]]:
    """`count` prompts from the dev split, spread over kind × tier, through the template."""
    from kubebench.models.prompts import build_messages
    from kubebench.tasks.loader import load_tasks

    tasks = load_tasks(split="dev")
    cells: dict[tuple[str, str], list] = {}
    for task in tasks:
        cells.setdefault((task.category.value, task.tier.value), []).append(task)
    chosen = []
    depth = 0
    while len(chosen) < count:  # round-robin over the cells: every kind, every tier
        layer = [cell[depth] for cell in cells.values() if depth < len(cell)]
        if not layer:
            break
        chosen.extend(layer)
        depth += 1
    return [build_messages(task) for task in chosen[:count]]


async def _run_mode(
    provider: HFProvider,
    mode: str,
    conversations: list[list[ChatMessage]],
    config: GenerationConfig,
    concurrent: bool,
    progress: Progress | None,
) -> GenerationRun:
    done = 0

    async def one(messages: list[ChatMessage]) -> Completion:
        nonlocal done
        completion = await provider.complete(messages, config)
        done += 1
        if progress:
            progress(mode, done)
        return completion

    started = time.monotonic()
    if concurrent:
        completions = list(await asyncio.gather(*(one(m) for m in conversations)))
    else:
        completions = [await one(m) for m in conversations]
    wall = time.monotonic() - started
    return GenerationRun(mode, completions, wall, list(provider.generator.batch_sizes))


async def bench_loaded_model(
    loaded: LoadedModel,
    conversations: list[list[ChatMessage]],
    *,
    batch_size: int,
    max_tokens: int,
    progress: Progress | None = None,
) -> tuple[GenerationRun, GenerationRun]:
    """Time the same conversations one at a time, then batched, on `loaded`."""
    config = GenerationConfig(temperature=0.0, max_tokens=max_tokens)
    one_at_a_time = HFProvider.from_loaded(loaded, max_batch_size=1, batch_window_s=0)
    # The window only has to cover the submission of every prompt (all at once here).
    batched = HFProvider.from_loaded(loaded, max_batch_size=batch_size, batch_window_s=0.05)
    try:
        # Warm-up: first-call costs (kernels, allocator) must not count against either mode.
        await one_at_a_time.complete(conversations[0], GenerationConfig(max_tokens=4))
        one_at_a_time.generator.batch_sizes.clear()
        sequential = await _run_mode(
            one_at_a_time, "one at a time", conversations, config, False, progress
        )
        batch_run = await _run_mode(batched, "batched", conversations, config, True, progress)
    finally:
        await one_at_a_time.aclose()
        await batched.aclose()
    return sequential, batch_run


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU, {torch.get_num_threads()} torch threads"


def run_generation_bench(
    *,
    prompts: int,
    batch_size: int,
    max_tokens: int,
    device: str = "auto",
    dtype: str = "auto",
    progress: Progress | None = None,
) -> GenerationBenchResult:
    """Load the embedded model through the hf code path and compare both modes."""
    from kubebench.models.embedded import load_embedded_model

    loaded = load_embedded_model(dtype=dtype, device=device)
    conversations = bench_conversations(prompts)
    sequential, batched = asyncio.run(
        bench_loaded_model(
            loaded, conversations, batch_size=batch_size, max_tokens=max_tokens, progress=progress
        )
    )
    return GenerationBenchResult(
        model=loaded.identity,
        device=loaded.device,
        hardware=_hardware(loaded.device),
        load_s=loaded.load_s,
        prompts=len(conversations),
        max_tokens=max_tokens,
        sequential=sequential,
        batched=batched,
    )


def summary_lines(result: GenerationBenchResult) -> list[str]:
    """The benchmark as plain text lines (for logs and machines without rich)."""
    seq, bat = result.sequential, result.batched
    rows = [
        ("prompts", str(result.prompts), str(result.prompts)),
        ("largest batch", str(max(seq.batch_sizes)), str(max(bat.batch_sizes))),
        ("generated tokens", str(seq.completion_tokens), str(bat.completion_tokens)),
        ("wall time (s)", f"{seq.wall_s:.2f}", f"{bat.wall_s:.2f}"),
        ("tokens/s", f"{seq.tokens_per_s:.1f}", f"{bat.tokens_per_s:.1f}"),
    ]
    lines = [f"generation bench on {result.device} ({result.hardware})"]
    lines += [
        f"{name:<18}{a:>16}{b:>12}" for name, a, b in [("", "one at a time", "batched"), *rows]
    ]
    lines.append(
        f"batched / one at a time: {result.speedup:.2f}x; identical answers "
        f"{result.identical_answers}/{result.prompts}; model load {result.load_s:.1f}s "
        f"({result.model.get('dtype')}); max tokens {result.max_tokens}"
    )
    return lines
