"""`kubebench bench generation`: tokens/s of local decoders, side by side, in one run.

Every decoder answers the same prompts (dev-split tasks through the real prompt
template), greedily, at each count of concurrent streams (1 and 16 by default: a pool
of that many clients, each sending its next prompt as soon as its answer is back):

- `handwritten`: KubeBench's own continuously batched loop (`decoding`), through the
  `hf` provider, on the embedded model as loaded;
- `transformers`: transformers' own continuous batching (`init_continuous_batching`,
  paged attention) on the same loaded model;
- `llama-server`: llama.cpp's server over HTTP (its OpenAI-compatible
  `/v1/chat/completions`, through the `openai` provider), when a URL is given; start it
  on the same GGUF file with `--parallel N` (scripts/bench_llamacpp.sh does).

Each run records the 1-minute load average before and after it (the machine may be
shared), and how many answers equal the first run's (greedy: they should, at least
between the two float decoders).
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubebench import defaults
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.models.hf import HFProvider
from kubebench.models.local_loading import LoadedModel

Progress = Callable[[str, int], None]  # (run label, completions finished so far)
DECODERS = ("handwritten", "transformers", "llama-server")


@dataclass
class GenerationRun:
    """One decoder at one count of concurrent streams."""

    decoder: str
    streams: int
    completions: list[Completion]
    wall_s: float
    load_avg: tuple[float, float] = (0.0, 0.0)  # 1-minute load average: before, after
    batch_sizes: list[int] = field(default_factory=list)
    error: str | None = None  # why this decoder could not run (then no figures)

    @property
    def label(self) -> str:
        return f"{self.decoder} ×{self.streams}"

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
    weights_from: str  # "gguf" (converted at this load) or "cache"
    prompts: int
    max_tokens: int
    runs: list[GenerationRun]

    def run(self, decoder: str, streams: int) -> GenerationRun | None:
        return next((r for r in self.runs if (r.decoder, r.streams) == (decoder, streams)), None)

    def identical_answers(self, run: GenerationRun) -> int:
        """How many of `run`'s answers equal the first successful run's."""
        reference = next((r for r in self.runs if not r.error), None)
        if reference is None or run.error:
            return 0
        pairs = zip(reference.completions, run.completions, strict=True)
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


Ask = Callable[[list[ChatMessage]], Awaitable[Completion]]


async def _pooled(
    ask: Ask,
    conversations: list[list[ChatMessage]],
    streams: int,
    label: str,
    progress: Progress | None,
) -> tuple[list[Completion], float]:
    """Answers in prompt order, `streams` requests in flight at any time; and wall time."""
    gate = asyncio.Semaphore(streams)
    done = 0

    async def one(messages: list[ChatMessage]) -> Completion:
        nonlocal done
        async with gate:
            completion = await ask(messages)
        done += 1
        if progress:
            progress(label, done)
        return completion

    started = time.monotonic()
    completions = list(await asyncio.gather(*(one(m) for m in conversations)))
    return completions, time.monotonic() - started


async def _handwritten(
    loaded: LoadedModel,
    conversations: list[list[ChatMessage]],
    config: GenerationConfig,
    streams: int,
    batch_size: int | None,
    progress: Progress | None,
) -> GenerationRun:
    provider = HFProvider.from_loaded(
        loaded, max_batch_size=min(streams, batch_size or streams), batch_window_s=0.05
    )
    try:
        # Warm-up: first-call costs (kernels, allocator) must not count against a mode.
        await provider.complete(conversations[0], GenerationConfig(max_tokens=4))
        provider.generator.batch_sizes.clear()
        load = os.getloadavg()[0]

        async def ask(messages: list[ChatMessage]) -> Completion:
            return await provider.complete(messages, config)

        label = f"handwritten ×{streams}"
        completions, wall = await _pooled(ask, conversations, streams, label, progress)
    finally:
        await provider.aclose()
    sizes = list(provider.generator.batch_sizes)
    return GenerationRun(
        "handwritten", streams, completions, wall, (load, os.getloadavg()[0]), sizes
    )


def _transformers(
    loaded: LoadedModel,
    conversations: list[list[ChatMessage]],
    config: GenerationConfig,
    streams: int,
    progress: Progress | None,
) -> GenerationRun:
    """transformers' continuous batching manager, `streams` requests in flight."""
    import torch
    from transformers import ContinuousBatchingConfig
    from transformers import GenerationConfig as HFGenerationConfig

    from kubebench.models.local_generation import render_chat
    from kubebench.models.local_tokens import answer_completion, eos_ids

    eos = eos_ids(loaded)
    prompts = [render_chat(loaded, m) for m in conversations]
    generation = HFGenerationConfig(
        max_new_tokens=config.max_tokens,
        do_sample=False,
        eos_token_id=sorted(eos),
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    width = max(len(p) for p in prompts) + config.max_tokens
    cb_config = ContinuousBatchingConfig(max_batch_tokens=max(256, width))
    label = f"transformers ×{streams}"
    with loaded.lock, torch.inference_mode():
        manager = loaded.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=cb_config
        )
        manager.start()
        try:
            tokens: dict[str, list[int]] = {}
            ids: dict[str, int] = {}
            waiting = list(range(len(prompts)))[::-1]
            load = os.getloadavg()[0]
            started = time.monotonic()
            while waiting or len(tokens) < len(prompts):
                while waiting and len(ids) - len(tokens) < streams:
                    index = waiting.pop()
                    rid = manager.add_request(prompts[index], request_id=f"bench-{index}")
                    if rid is None:
                        raise RuntimeError("the manager refused a request")
                    ids[rid] = index
                result = manager.get_result(timeout=5)
                if result is None:
                    if manager.is_running():
                        continue  # still decoding: a loaded machine is slow, not stuck
                    raise RuntimeError("transformers' batching manager stopped")
                if result.error:
                    raise RuntimeError(result.error)
                if result.is_finished():
                    tokens[result.request_id] = list(result.generated_tokens)
                    if progress:
                        progress(label, len(tokens))
            wall = time.monotonic() - started
        finally:
            manager.stop(block=True)
    completions = []
    for rid, index in sorted(ids.items(), key=lambda item: item[1]):
        row = tokens[rid]
        ended = next((i for i, t in enumerate(row) if t in eos), None)
        row = row[: ended + 1] if ended is not None else row
        completions.append(answer_completion(loaded, row, prompts[index], config, eos, wall, 0))
    return GenerationRun("transformers", streams, completions, wall, (load, os.getloadavg()[0]))


async def _llama_server(
    url: str,
    conversations: list[list[ChatMessage]],
    config: GenerationConfig,
    streams: int,
    progress: Progress | None,
) -> GenerationRun:
    from kubebench.models.openai import OpenAIProvider

    base = url.rstrip("/")
    base = base if base.endswith("/v1") else f"{base}/v1"
    # A slow, shared machine: a queued request may wait long for its slot.
    provider = OpenAIProvider(
        "smollm2", base_url=base, concurrency=streams, retries=0, timeout_s=3600
    )
    try:
        await provider.complete(conversations[0], GenerationConfig(max_tokens=4))  # warm-up
        load = os.getloadavg()[0]

        async def ask(messages: list[ChatMessage]) -> Completion:
            return await provider.complete(messages, config)

        label = f"llama-server ×{streams}"
        completions, wall = await _pooled(ask, conversations, streams, label, progress)
    finally:
        await provider.aclose()
    return GenerationRun("llama-server", streams, completions, wall, (load, os.getloadavg()[0]))


def bench_decoders(
    loaded: LoadedModel,
    conversations: list[list[ChatMessage]],
    *,
    max_tokens: int,
    streams: Sequence[int] = defaults.BENCH_GENERATION_STREAMS,
    decoders: Sequence[str] = ("handwritten", "transformers"),
    llama_server: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> list[GenerationRun]:
    """Every decoder at every stream count, one after another, in this process."""
    config = GenerationConfig(temperature=0.0, max_tokens=max_tokens)
    runs: list[GenerationRun] = []
    for decoder in decoders:
        for count in streams:
            try:
                if decoder == "handwritten":
                    run = asyncio.run(
                        _handwritten(loaded, conversations, config, count, batch_size, progress)
                    )
                elif decoder == "transformers":
                    run = _in_thread(
                        lambda c=count: _transformers(loaded, conversations, config, c, progress)
                    )
                elif decoder == "llama-server" and llama_server:
                    run = asyncio.run(
                        _llama_server(llama_server, conversations, config, count, progress)
                    )
                else:
                    continue
            except Exception as exc:  # a decoder that cannot run is a finding, not a crash
                message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                run = GenerationRun(decoder, count, [], 0.0, error=message)
            runs.append(run)
    return runs


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` on a fresh thread (transformers' manager must not see our event loop)."""
    results: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def target() -> None:
        try:
            results.put((True, work()))
        except BaseException as exc:
            results.put((False, exc))

    thread = threading.Thread(target=target, name="kubebench-bench")
    thread.start()
    thread.join()
    ok, value = results.get()
    if not ok:
        raise value
    return value


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU, {torch.get_num_threads()} torch threads"


def run_generation_bench(
    *,
    prompts: int,
    max_tokens: int,
    streams: Sequence[int] = defaults.BENCH_GENERATION_STREAMS,
    decoders: Sequence[str] = ("handwritten", "transformers"),
    llama_server: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    progress: Progress | None = None,
) -> GenerationBenchResult:
    """Load the embedded model and time every decoder on the same prompts."""
    from kubebench.models.embedded import load_embedded_model

    loaded = load_embedded_model(dtype=dtype, device=device)
    conversations = bench_conversations(prompts)
    runs = bench_decoders(
        loaded,
        conversations,
        max_tokens=max_tokens,
        streams=streams,
        decoders=[*decoders, *(["llama-server"] if llama_server else [])],
        llama_server=llama_server,
        batch_size=batch_size,
        progress=progress,
    )
    return GenerationBenchResult(
        model=loaded.identity,
        device=loaded.device,
        hardware=_hardware(loaded.device),
        load_s=loaded.load_s,
        weights_from=loaded.weights_from,
        prompts=len(conversations),
        max_tokens=max_tokens,
        runs=runs,
    )


def summary_lines(result: GenerationBenchResult) -> list[str]:
    """The benchmark as plain text lines (for logs and machines without rich)."""
    lines = [
        f"generation bench on {result.device} ({result.hardware}); {result.prompts} prompts, "
        f"max tokens {result.max_tokens}, greedy; model load {result.load_s:.1f}s "
        f"(weights from {result.weights_from}, {result.model.get('dtype')})",
        f"{'decoder':<14}{'streams':>8}{'tokens':>8}{'wall s':>9}{'tokens/s':>10}"
        f"{'identical':>11}{'load avg':>13}",
    ]
    for run in result.runs:
        if run.error:
            lines.append(f"{run.decoder:<14}{run.streams:>8}  failed: {run.error}")
            continue
        lines.append(
            f"{run.decoder:<14}{run.streams:>8}{run.completion_tokens:>8}{run.wall_s:>9.1f}"
            f"{run.tokens_per_s:>10.1f}{result.identical_answers(run):>8}/{result.prompts:<2}"
            f"{run.load_avg[0]:>7.2f}→{run.load_avg[1]:.2f}"
        )
    return lines
