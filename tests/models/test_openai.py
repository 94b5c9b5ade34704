"""The openai provider against a real HTTP server on loopback (tests/models/chat_server.py)."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import pytest

from kubebench.errors import InfrastructureError, UserError
from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.openai import OpenAIProvider
from kubebench.models.registry import create_provider
from kubebench.retry import RetryPolicy, parse_retry_after
from tests.models.chat_server import ChatServer, Reply

MESSAGES = [
    ChatMessage(role="system", content="You write Kubernetes YAML."),
    ChatMessage(role="user", content="Create a Namespace named team-a."),
]
GREEDY = GenerationConfig(max_tokens=64)
ANSWER = "```yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n```"


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    async with ChatServer() as running:
        yield running


def provider(server: ChatServer, **options: object) -> OpenAIProvider:
    # Short backoff keeps the tests quick; Retry-After waits are the server's to choose.
    options = {"backoff_s": 0.01, "backoff_max_s": 0.05, **options}
    made = create_provider(f"openai:test-model?base_url={server.base_url}", **options)
    assert isinstance(made, OpenAIProvider)
    return made


async def test_non_streaming_answer_carries_usage_and_sampling(server: ChatServer) -> None:
    server.replies.append(Reply(text=ANSWER, usage=(42, 17)))
    model = provider(server, api_key="sk-test")
    config = GenerationConfig(temperature=0.7, top_p=0.9, max_tokens=99, seed=5, stop=("END",))
    completion = await model.complete(MESSAGES, config)
    await model.aclose()

    assert completion.text == ANSWER
    assert (completion.prompt_tokens, completion.completion_tokens) == (42, 17)
    assert completion.finish_reason == "stop"
    assert completion.latency_s > 0
    assert completion.raw["tries"] == 1
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "test-model"
    assert body["messages"] == [m.model_dump() for m in MESSAGES]
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.7, 0.9, 99)
    assert (body["seed"], body["stop"], body["stream"]) == (5, ["END"], False)


async def test_streaming_answer_is_assembled_from_chunks(server: ChatServer) -> None:
    server.replies.append(Reply(text=ANSWER, usage=(30, 12), chunk_size=3))
    model = provider(server, stream="true")
    completion = await model.complete(MESSAGES, GREEDY)
    await model.aclose()

    assert completion.text == ANSWER
    assert (completion.prompt_tokens, completion.completion_tokens) == (30, 12)
    assert completion.finish_reason == "stop"
    assert completion.raw["chunks"] > len(ANSWER) // 3  # really arrived in pieces
    assert "time_to_first_token_s" in completion.raw
    body = server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "seed" not in body and "stop" not in body  # unset options are not sent


async def test_429_waits_as_long_as_retry_after_says(server: ChatServer) -> None:
    server.replies.extend(
        [Reply(status=429, headers={"Retry-After": "1"}), Reply(text="after the wait")]
    )
    model = provider(server)
    completion = await model.complete(MESSAGES, GREEDY)
    await model.aclose()

    assert completion.text == "after the wait"
    assert completion.raw["tries"] == 2
    first, second = server.requests
    assert second.arrived - first.arrived >= 1.0


async def test_429_waits_until_the_http_date_retry_after_names(server: ChatServer) -> None:
    import email.utils
    import time

    # An HTTP date has whole seconds: the retry must not come before the second named.
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    not_before = email.utils.parsedate_to_datetime(when).timestamp()
    server.replies.extend([Reply(status=429, headers={"Retry-After": when}), Reply(text="ok")])
    model = provider(server)
    completion = await model.complete(MESSAGES, GREEDY)
    answered = time.time()
    await model.aclose()

    assert completion.text == "ok" and completion.raw["tries"] == 2
    assert len(server.requests) == 2
    assert answered >= not_before


async def test_persistent_429_is_asked_at_most_retries_plus_one_times(server: ChatServer) -> None:
    server.replies.extend(Reply(status=429, headers={"Retry-After": "0"}) for _ in range(10))
    model = provider(server, retries=3)
    with pytest.raises(InfrastructureError, match=r"HTTP 429.*gave up after 4 tries"):
        await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert len(server.requests) == 4


async def test_500s_are_retried_with_growing_backoff(server: ChatServer) -> None:
    server.replies.extend(
        [Reply(status=500), Reply(status=502), Reply(status=503), Reply(text="ok")]
    )
    model = provider(server, retries=3, backoff_s=0.1, backoff_max_s=10)
    completion = await model.complete(MESSAGES, GREEDY)
    await model.aclose()

    assert completion.text == "ok"
    assert completion.raw["tries"] == 4
    times = [r.arrived for r in server.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Equal jitter: try n waits at least half of 0.1 * 2**n.
    for attempt, gap in enumerate(gaps):
        assert gap >= 0.1 * 2**attempt / 2


async def test_persistent_500_becomes_infrastructure_error_after_retries(
    server: ChatServer,
) -> None:
    server.replies.extend(Reply(status=500) for _ in range(10))
    model = provider(server, retries=2)
    with pytest.raises(InfrastructureError, match=r"HTTP 500.*gave up after 3 tries"):
        await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert len(server.requests) == 3


async def test_slow_answer_times_out_and_is_retried(server: ChatServer) -> None:
    # The timeout leaves room for a loaded 2-core CI machine to answer the retry in time;
    # the slow replies would take far longer than any timeout used here.
    server.replies.extend([Reply(text="too late", delay_s=60), Reply(text="in time")])
    model = provider(server, timeout_s=2)
    completion = await model.complete(MESSAGES, GREEDY)
    assert completion.text == "in time"
    assert completion.raw["tries"] == 2

    server.replies.extend(Reply(text="too late", delay_s=60) for _ in range(2))
    slow = provider(server, timeout_s=0.5, retries=1)
    with pytest.raises(InfrastructureError, match=r"no answer within 0.5s.*2 tries"):
        await slow.complete(MESSAGES, GREEDY)
    await model.aclose()
    await slow.aclose()


async def test_retry_after_longer_than_allowed_fails_at_once(server: ChatServer) -> None:
    server.replies.append(Reply(status=429, headers={"Retry-After": "3600"}))
    model = provider(server, retry_after_max_s=5)
    with pytest.raises(InfrastructureError, match="asks to wait 3600s"):
        await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (401, UserError, "refused the API key"),
        (403, UserError, "refused the API key"),
        (404, UserError, "not found"),
        (400, InfrastructureError, "rejected the request"),
        (422, InfrastructureError, "rejected the request"),
    ],
)
async def test_client_errors_are_not_retried(
    server: ChatServer, status: int, error: type[Exception], text: str
) -> None:
    server.replies.append(
        Reply(status=status, body='{"error": {"message": "context length exceeded"}}')
    )
    model = provider(server)
    with pytest.raises(error, match=text) as caught:
        await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert len(server.requests) == 1
    assert "context length exceeded" in caught.value.one_line()  # type: ignore[attr-defined]
    assert "\n" not in caught.value.one_line()  # type: ignore[attr-defined]


async def test_connection_refused_is_an_infrastructure_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = create_provider(
        f"openai:m?base_url=http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.01
    )
    with pytest.raises(InfrastructureError, match="connection failed"):
        await model.complete(MESSAGES, GREEDY)
    await model.aclose()


async def test_malformed_body_is_retried(server: ChatServer) -> None:
    server.replies.extend([Reply(body='{"object": "chat.completion"}'), Reply(text="")])
    model = provider(server)
    completion = await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert completion.raw["tries"] == 2
    assert completion.text == ""  # an empty answer is an answer, graded like any other


async def test_stream_cut_before_done_is_retried(server: ChatServer) -> None:
    cut = 'data: {"choices": [{"delta": {"content": "half"}, "finish_reason": null}]}\n\n'
    server.replies.extend(
        [Reply(body=cut, headers={"Content-Type": "text/event-stream"}), Reply(text="whole")]
    )
    model = provider(server, stream=True)
    completion = await model.complete(MESSAGES, GREEDY)
    await model.aclose()
    assert (completion.text, completion.raw["tries"]) == ("whole", 2)


async def test_concurrency_is_bounded(server: ChatServer) -> None:
    server.replies.extend(Reply(text=f"answer {i}", delay_s=0.5) for i in range(6))
    model = provider(server, concurrency=2)
    completions = await asyncio.gather(*(model.complete(MESSAGES, GREEDY) for _ in range(6)))
    await model.aclose()
    assert sorted(c.text for c in completions) == sorted(f"answer {i}" for i in range(6))
    assert server.peak_active == 2


def test_retry_after_parsing() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_and_stays_within_bounds() -> None:
    from tenacity import RetryCallState

    jittered = RetryPolicy(backoff_s=0.5, backoff_max_s=4.0, jitter=True).backoff()
    plain = RetryPolicy(backoff_s=0.5, backoff_max_s=4.0).backoff()
    state = RetryCallState(None, None, (), {})
    for attempt in range(8):
        state.attempt_number = attempt + 1  # the tries made so far
        step = min(4.0, 0.5 * 2**attempt)
        delays = [jittered(state) for _ in range(20)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert plain(state) == step


def test_api_key_in_model_id_is_refused() -> None:
    with pytest.raises(UserError, match="api_key"):
        create_provider("openai:m?api_key=sk-secret")


def test_unknown_option_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown option 'temprature'"):
        create_provider("openai:m?temprature=1")


async def test_stream_ended_by_a_newer_request_is_retried_not_an_empty_answer() -> None:
    # llama-cpp-python's server (interrupt_requests on, its default) ends an in-flight
    # stream with a bare `data: [DONE]` when the next request arrives.
    async with ChatServer(interrupt_requests=True) as server:
        slow = Reply(text=ANSWER, chunk_size=2, chunk_delay_s=0.02)
        server.replies.extend([slow, Reply(text="other"), Reply(text=ANSWER)])
        model = provider(server, stream=True, concurrency=2)
        first = asyncio.create_task(model.complete(MESSAGES, GREEDY))
        while len(server.requests) < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a few chunks of the first answer are out
        other = await model.complete(MESSAGES, GREEDY)
        completion = await first
        await model.aclose()
    assert server.interrupted == 1
    assert other.text == "other"
    assert completion.text == ANSWER  # the whole answer, from the retry
    assert completion.finish_reason == "stop"
    assert completion.raw["tries"] == 2


async def test_stream_without_finish_reason_is_an_infrastructure_error() -> None:
    async with ChatServer(interrupt_requests=True) as server:
        server.replies.append(Reply(text=ANSWER, chunk_size=2, chunk_delay_s=0.02))
        model = provider(server, stream=True, concurrency=2, retries=0)
        first = asyncio.create_task(model.complete(MESSAGES, GREEDY))
        while len(server.requests) < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        await model.complete(MESSAGES, GREEDY)
        with pytest.raises(InfrastructureError, match="without a finish_reason"):
            await first
        await model.aclose()


def test_credentials_in_a_base_url_are_refused_in_model_ids() -> None:
    with pytest.raises(UserError, match="base_url") as caught:
        create_provider("openai:x?base_url=http://u:sk-X@127.0.0.1:9/v1")
    assert "sk-X" not in caught.value.one_line()


async def test_credentials_in_a_base_url_are_used_but_never_shown(
    server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.base_url.replace("http://", "http://u:sk-X@")
    monkeypatch.setenv("KUBEBENCH_OPENAI_BASE_URL", url)
    model = create_provider("openai:m", backoff_s=0.01, retries=0)
    assert model.describe()["base_url"] == server.base_url
    assert "sk-X" not in repr(model.describe())
    server.replies.append(Reply(status=500))
    with pytest.raises(InfrastructureError) as caught:
        await model.complete(MESSAGES, GREEDY)
    assert "sk-X" not in caught.value.one_line() and server.base_url in caught.value.one_line()
    await model.aclose()
    [request] = server.requests
    assert request.headers["authorization"].startswith("Basic ")  # the credentials were sent


async def test_a_prompt_with_a_lone_surrogate_is_sent(server: ChatServer) -> None:
    # A judge is shown the model's answer, which may hold one.
    model = provider(server)
    messages = [ChatMessage(role="user", content="judge this: x\ud800y")]
    completion = await model.complete(messages, GREEDY)
    await model.aclose()
    assert completion.text == "echo: judge this: x\ud800y"
    assert server.requests[0].body["messages"][0]["content"] == "judge this: x\ud800y"
