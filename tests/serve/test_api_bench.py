"""`kubebench bench serve` end to end on a small scale, with the scripted chat double
(the figures of the real model are in docs/serve.md)."""

from __future__ import annotations

from pathlib import Path

from kubebench import defaults
from kubebench.cluster.kubeconfig import Connection
from kubebench.serve.serve_bench import run_serve_bench
from tests.serve.conftest import chat_script


def test_bench_serve_measures_streams_ttft_and_validation(
    tmp_path: Path, connection: Connection
) -> None:
    model = chat_script(tmp_path / "chat.json", "some answer text") + "?delay_s=0.05"
    result = run_serve_bench(
        model, connection, concurrency=(1, 4), max_tokens=4, validate_requests=20, busy_streams=2
    )
    assert [level.concurrency for level in result.levels] == [1, 4]
    assert all(level.errors == 0 for level in result.levels)
    assert all(level.ttft_p50_s is not None for level in result.levels)
    assert result.idle_ttft_s is not None and result.busy_ttft_s is not None
    assert result.ttft_probes == defaults.BENCH_SERVE_TTFT_PROBES
    assert result.busy_streams_at_end in (0, 1, 2)
    assert result.validate_requests == 20 and result.validate_errors == 0
    assert result.validate_per_s and result.validate_per_s > 0
    assert set(result.as_dict()) >= {"levels", "busy_over_idle_ttft", "validate_per_s"}
