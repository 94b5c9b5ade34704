"""The attempt pipeline on the real control plane with the real grader: wrong answers
are graded failures with reasons, infrastructure errors are retried and kept apart,
resume picks up exactly what is missing, the response cache is used."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from kubebench.cluster.client import KubeClient
from kubebench.errors import InfrastructureError
from kubebench.grading.verdict import Stage, Verdict
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.models.doubles import OracleProvider, ScriptedProvider
from kubebench.runner.cache import ResponseCache
from kubebench.runner.launch import plan_attempts
from kubebench.runner.pipeline import AttemptPipeline, Concurrency, RetryPolicy
from kubebench.runner.store import RunStore
from kubebench.tasks.schema import Task
from tests.runner.records_factory import make_meta, make_task

FAST_RETRY = RetryPolicy(retries=2, backoff_s=0.01, backoff_max_s=0.02)


def _tasks(prefix: str, n: int) -> list[Task]:
    return [make_task(f"{prefix}-{i}") for i in range(n)]


def _prompt(task: Task) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=task.prompt)]


async def _run(
    tmp_path: Path,
    tasks: list[Task],
    provider: object,
    kube: KubeClient,
    grade: object,
    *,
    samples: int = 1,
    cache: ResponseCache | None = None,
    run_name: str = "run",
) -> RunStore:
    run_dir = tmp_path / run_name
    store = (
        RunStore.open(run_dir)
        if (run_dir / "run.json").exists()
        else RunStore.create(run_dir, make_meta([t.id for t in tasks], samples=samples))
    )
    by_id = {t.id: t for t in tasks}
    planned = plan_attempts(
        [t.id for t in tasks],
        by_id,
        samples,
        finished=store.finished_keys(),
        retry_from=store.pending_retries(),
    )
    pipeline = AttemptPipeline(
        provider=provider,  # type: ignore[arg-type]
        generation=GenerationConfig(),
        messages_for=_prompt,
        grade=grade,  # type: ignore[arg-type]
        kube=kube,
        store_append=store.append_attempt,
        cache=cache,
        concurrency=Concurrency(generation=3, grading=3),
        retry=FAST_RETRY,
    )
    await pipeline.run(planned)
    from kubebench.grading.pipeline import settle_cleanups

    assert await settle_cleanups(kube) == []
    return store


async def test_scripted_wrong_answers_fail_with_reasons(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    tasks = _tasks("scripted-wrong", 5)
    ns = [t.namespaces[0] for t in tasks]
    answers = {
        tasks[0].id: tasks[0].reference,  # right
        tasks[1].id: tasks[1].reference.replace("name: settings", "name: other"),  # wrong name
        tasks[2].id: "I would create a ConfigMap, but I will not write it down.",  # prose
        tasks[3].id: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
        f"  namespace: {ns[3]}\nspec:\n  mode: fast\n",  # unknown field: server rejects
        # tasks[4] is not in the file: an empty answer
    }
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    store = await _run(tmp_path, tasks, ScriptedProvider(str(path)), kube, grade_answer)
    records = {r.task_id: r for r in store.attempts()}
    assert len(records) == 5
    assert records[tasks[0].id].success
    for task in tasks[1:]:
        rec = records[task.id]
        assert not rec.success, task.id
        assert rec.infrastructure_error is None
        assert rec.verdict is not None and rec.verdict.reason, task.id
    assert records[tasks[1].id].verdict.runtime_valid  # valid YAML, wrong object
    assert not records[tasks[1].id].verdict.operational_valid
    assert records[tasks[1].id].verdict.stage == Stage.expectations
    assert records[tasks[2].id].verdict.stage == Stage.extract
    assert not records[tasks[3].id].verdict.runtime_valid
    assert records[tasks[4].id].answer == ""
    assert records[tasks[4].id].verdict.stage == Stage.extract


class FlakyOracle(OracleProvider):
    """The oracle, but the endpoint fails the first `failures` calls for each task."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls: Counter[str] = Counter()

    async def complete(self, messages, config, *, task=None):  # type: ignore[no-untyped-def]
        assert task is not None
        self.calls[task.id] += 1
        if self.calls[task.id] <= self.failures:
            raise InfrastructureError("model endpoint returned 503")
        return await super().complete(messages, config, task=task)


async def test_a_model_calls_failure_is_recorded_not_retried_on_top_of_the_provider(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    """The provider is the one layer that retries a model call: the runner asks once,
    records the infrastructure error apart, and `--resume` asks again."""
    tasks = _tasks("flaky-once", 3)
    provider = FlakyOracle(failures=1)
    store = await _run(tmp_path, tasks, provider, kube, grade_answer)
    records = store.attempts()
    assert all(r.infrastructure_stage == "generation" and r.retries == 0 for r in records)
    assert all(provider.calls[t.id] == 1 for t in tasks)
    store.close()

    store = await _run(tmp_path, tasks, provider, kube, grade_answer)
    assert [r.success for r in store.attempts()] == [True, True, True]
    assert all(provider.calls[t.id] == 2 for t in tasks)


async def test_an_endpoint_that_keeps_failing_gets_retries_plus_one_requests_in_all(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    from kubebench.models.openai import OpenAIProvider
    from tests.models.chat_server import ChatServer, Reply

    async with ChatServer() as server:
        server.replies.extend(Reply(status=503) for _ in range(20))
        provider = OpenAIProvider(
            "m", base_url=server.base_url, retries=2, backoff_s=0.01, backoff_max_s=0.02
        )
        store = await _run(tmp_path, _tasks("endpoint-down", 1), provider, kube, grade_answer)
        await provider.aclose()
    (record,) = store.attempts()
    assert record.infrastructure_stage == "generation"
    assert "gave up after 3 tries" in (record.infrastructure_error or "")
    assert len(server.requests) == 3  # not 3 × (FAST_RETRY.retries + 1)


async def test_persistent_infrastructure_errors_are_recorded_apart_then_resumed(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    from kubebench.report.summary import summarize_store

    tasks = _tasks("flaky-hard", 3)
    down = FlakyOracle(failures=100)
    store = await _run(tmp_path, tasks, down, kube, grade_answer)
    summary = summarize_store(store)
    assert summary.overall.infrastructure_errors == 3
    assert summary.overall.graded == 0  # not counted as model failures
    assert all(r.infrastructure_stage == "generation" for r in store.attempts())
    assert all(down.calls[t.id] == 1 for t in tasks)  # the provider's to retry
    store.close()

    store = await _run(tmp_path, tasks, OracleProvider(), kube, grade_answer)
    summary = summarize_store(store)
    assert summary.overall.infrastructure_errors == 0
    assert summary.overall.success == 3
    keys = [r.attempt_key for r in store.attempts()]
    assert sorted(keys) == sorted(f"{t.id}#0" for t in tasks)


async def test_a_grading_infrastructure_error_keeps_the_answer_on_resume(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    tasks = _tasks("grader-down", 2)
    calls: Counter[str] = Counter()

    async def grader_down(task: Task, answer: str, client: KubeClient) -> Verdict:
        calls[task.id] += 1
        return Verdict(task_id=task.id, stage=Stage.apply, infrastructure_error="etcd down")

    first = FlakyOracle(failures=0)
    store = await _run(tmp_path, tasks, first, kube, grader_down)
    assert all(r.infrastructure_stage == "scoring" for r in store.attempts())
    assert all(r.infrastructure_scorer == "grader" for r in store.attempts())
    assert all(calls[t.id] == FAST_RETRY.retries + 1 for t in tasks)
    store.close()

    second = FlakyOracle(failures=0)
    store = await _run(tmp_path, tasks, second, kube, grade_answer)
    assert [r.success for r in store.attempts()] == [True, True]
    assert sum(second.calls.values()) == 0  # the stored answers were graded, not re-asked


class CountingModel:
    """A cacheable model double that answers each task's reference and counts calls."""

    model_id = "counting:test"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, messages, config, *, task=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return Completion(text=f"```yaml\n{task.reference}```", latency_s=0.01)

    def describe(self) -> dict[str, object]:
        return {"provider": "counting", "name": "test"}

    async def aclose(self) -> None:
        return None


async def test_greedy_answers_come_from_the_cache_in_a_later_run(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    tasks = _tasks("cached", 2)
    cache = ResponseCache(tmp_path / "responses.sqlite")
    model = CountingModel()
    first = await _run(tmp_path, tasks, model, kube, grade_answer, cache=cache, run_name="a")
    assert model.calls == 2 and not any(r.cached for r in first.attempts())
    second = await _run(tmp_path, tasks, model, kube, grade_answer, cache=cache, run_name="b")
    assert model.calls == 2  # nothing asked again
    assert all(r.cached and r.success for r in second.attempts())
    cache.close()


async def test_samples_are_isolated_attempts(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    tasks = _tasks("samples", 2)
    store = await _run(tmp_path, tasks, OracleProvider(), kube, grade_answer, samples=3)
    keys = sorted(r.attempt_key for r in store.attempts())
    assert keys == sorted(f"{t.id}#{s}" for t in tasks for s in range(3))
    assert all(r.success for r in store.attempts())


class JudgeDouble:
    """A judge model that gives every criterion the same score, or is down."""

    model_id = "scripted:judge"

    def __init__(self, score: int | None) -> None:
        self.score = score
        self.calls = 0

    async def complete(self, messages, config, *, task=None):  # type: ignore[no-untyped-def]
        from kubebench.judge.rubric import CRITERION_NAMES

        self.calls += 1
        if self.score is None:
            raise InfrastructureError("judge endpoint answered 503")
        scores = {name: self.score for name in CRITERION_NAMES}
        return Completion(text=json.dumps({"scores": scores, "rationale": "fine"}))

    def describe(self) -> dict[str, object]:
        return {"provider": "judge-double"}

    async def aclose(self) -> None:
        return None


async def test_judge_scores_are_stored_and_a_down_judge_is_resumed(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    from kubebench.judge.rubric import CRITERION_NAMES
    from kubebench.report.summary import summarize_store
    from kubebench.scoring.grader import ClusterGrader
    from kubebench.scoring.judge import JudgeScorer

    tasks = _tasks("judged", 2)
    grader_calls: Counter[str] = Counter()

    async def counting_grader(task: Task, answer: str, client: KubeClient) -> Verdict:
        grader_calls[task.id] += 1
        return await grade_answer(task, answer, client)  # type: ignore[operator]

    async def run(judge: JudgeDouble) -> RunStore:
        run_dir = tmp_path / "judged"
        store = (
            RunStore.open(run_dir)
            if run_dir.exists()
            else RunStore.create(run_dir, make_meta([t.id for t in tasks]))
        )
        planned = plan_attempts(
            [t.id for t in tasks],
            {t.id: t for t in tasks},
            1,
            finished=store.finished_keys(),
            retry_from=store.pending_retries(),
        )
        pipeline = AttemptPipeline(
            provider=OracleProvider(),
            generation=GenerationConfig(),
            messages_for=_prompt,
            scorers=[ClusterGrader(counting_grader), JudgeScorer(judge)],  # type: ignore[arg-type]
            kube=kube,
            store_append=store.append_attempt,
            store_score=store.append_score,
            retry=FAST_RETRY,
        )
        await pipeline.run(planned)
        return store

    store = await run(JudgeDouble(score=None))
    assert all(r.infrastructure_stage == "scoring" for r in store.attempts())
    assert all(r.infrastructure_scorer == "judge:scripted:judge" for r in store.attempts())
    assert all(r.verdict is not None and r.verdict.success for r in store.attempts())
    store.close()

    store = await run(JudgeDouble(score=4))
    records = store.attempts()
    assert all(r.infrastructure_error is None for r in records)
    scores = store.scores()
    judged = [scores[r.attempt_key]["judge:scripted:judge@1"] for r in records]
    assert all(s.value and s.value["intent"] == 4 for s in judged)
    # 0.25 runtime + 0.5 operational + 0.25 * (4 - 1) / 4
    assert all(s.metadata["overall_score"] == 0.9375 for s in judged)
    # One grader score per attempt in scores.jsonl: the resume did not grade again.
    graded = [r for r in store.score_history() if r.score.name == "grader"]
    assert sorted(r.attempt_key for r in graded) == sorted(r.attempt_key for r in records)
    assert all(grader_calls[t.id] == 1 for t in tasks)  # verdicts were reused, not regraded
    [judge] = summarize_store(store).judges
    assert judge.criterion_means == dict.fromkeys(CRITERION_NAMES, 4.0)


async def test_a_lone_surrogate_from_an_openai_server_is_stored_and_graded(
    tmp_path: Path, kube: KubeClient, grade_answer: object
) -> None:
    from kubebench.models.registry import create_provider
    from tests.models.chat_server import ChatServer, Reply

    tasks = _tasks("surrogate", 2)
    answer = f"```yaml\n{tasks[0].reference}```\n\ud800"
    cache = ResponseCache(tmp_path / "responses.sqlite")
    async with ChatServer() as server:
        server.replies.extend([Reply(text=answer), Reply(text=f"```yaml\n{tasks[1].reference}```")])
        model = create_provider(f"openai:m?base_url={server.base_url}&concurrency=1")
        store = await _run(tmp_path, tasks, model, kube, grade_answer, cache=cache)
        await model.aclose()
    records = {r.task_id: r for r in store.attempts()}
    first = records[tasks[0].id]
    assert first.answer == answer and first.graded
    assert first.verdict is not None and first.verdict.stage == Stage.parse
    assert records[tasks[1].id].success
    store.close()
    # The cached copy comes back exactly, and so does the stored one.
    again = await _run(tmp_path, tasks, model, kube, grade_answer, cache=cache, run_name="b")
    assert {r.task_id: r.answer for r in again.attempts()}[tasks[0].id] == answer
    assert all(r.cached for r in again.attempts())
    cache.close()
