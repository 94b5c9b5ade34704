"""The OpenAI-compatible chat API over a real uvicorn on loopback, answered by the
scripted chat double: raw HTTP, KubeBench's own `openai:` provider, and the official
`openai` client."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kubebench.models.base import ChatMessage, GenerationConfig
from kubebench.models.openai import OpenAIProvider
from tests.serve.conftest import CHAT_ANSWER, RunningServer

USER = [{"role": "user", "content": "Write a ConfigMap named demo."}]


def _model(url: str) -> str:
    return httpx.get(f"{url}/v1/models").json()["data"][0]["id"]


def _events(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def test_models_lists_the_served_ids(serve_url: str) -> None:
    body = httpx.get(f"{serve_url}/v1/models").json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model["id"].startswith("scripted:") and model["object"] == "model"
    assert model["owned_by"] == "kubebench"


def test_non_streaming_answer_has_openai_shape_and_usage(serve_url: str) -> None:
    model = _model(serve_url)
    resp = httpx.post(f"{serve_url}/v1/chat/completions", json={"model": model, "messages": USER})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == model
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": CHAT_ANSWER}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streaming_ends_with_done_and_carries_deltas(serve_url: str) -> None:
    body = {"model": _model(serve_url), "messages": USER, "stream": True}
    body["stream_options"] = {"include_usage": True}
    with httpx.stream("POST", f"{serve_url}/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = _events(resp)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == CHAT_ANSWER
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and "total_tokens" in chunks[-1]["usage"]


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence_cuts_the_answer(serve_url: str, stream: bool) -> None:
    body = {"model": _model(serve_url), "messages": USER, "stop": ["kind:"], "stream": stream}
    expected = CHAT_ANSWER[: CHAT_ANSWER.index("kind:")]
    if not stream:
        resp = httpx.post(f"{serve_url}/v1/chat/completions", json=body).json()
        assert resp["choices"][0]["message"]["content"] == expected
        return
    with httpx.stream("POST", f"{serve_url}/v1/chat/completions", json=body) as resp:
        chunks = [json.loads(e) for e in _events(resp)[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected


def test_unknown_model_and_bad_requests_get_json_errors(serve_url: str) -> None:
    resp = httpx.post(
        f"{serve_url}/v1/chat/completions", json={"model": "nope:x", "messages": USER}
    )
    assert resp.status_code == 404
    assert "not served here" in resp.json()["error"]["message"]
    resp = httpx.post(f"{serve_url}/v1/chat/completions", json={"model": _model(serve_url)})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "messages" in resp.json()["error"]["message"]
    big = {"model": _model(serve_url), "messages": USER, "max_tokens": 10**6}
    assert httpx.post(f"{serve_url}/v1/chat/completions", json=big).status_code == 400


@pytest.mark.parametrize("stream", [False, True])
async def test_kubebench_openai_provider_talks_to_serve(serve_url: str, stream: bool) -> None:
    provider = OpenAIProvider(_model(serve_url), base_url=f"{serve_url}/v1", stream=stream)
    try:
        completion = await provider.complete(
            [ChatMessage(role="user", content="a ConfigMap please")],
            GenerationConfig(temperature=0.0, max_tokens=64, seed=7, stop=("data:",)),
        )
    finally:
        await provider.aclose()
    assert completion.text == CHAT_ANSWER[: CHAT_ANSWER.index("data:")]
    assert completion.finish_reason == "stop"
    assert completion.prompt_tokens is not None


def test_official_openai_client_talks_to_serve(serve_url: str) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{serve_url}/v1", api_key="unused", max_retries=0)
    model = client.models.list().data[0].id
    reply = client.chat.completions.create(
        model=model, messages=USER, temperature=0.2, top_p=0.9, max_tokens=64, seed=1
    )
    assert reply.choices[0].message.content == CHAT_ANSWER
    assert reply.usage is not None
    stream = client.chat.completions.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    parts, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert "".join(parts) == CHAT_ANSWER and usage is not None
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=USER)


def test_answers_in_turn_from_a_list(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    script = tmp_path / "turns.json"
    script.write_text(json.dumps({"*": ["first", "second"]}))
    url = start_server(models=[f"scripted:{script}"]).url
    body = {"model": f"scripted:{script}", "messages": USER}
    said = [
        httpx.post(f"{url}/v1/chat/completions", json=body).json()["choices"][0]["message"][
            "content"
        ]
        for _ in range(3)
    ]
    assert said == ["first", "second", "first"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_models_are_proxied_to_their_upstream(
    start_server: Callable[..., RunningServer], stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second `kubebench serve` is the upstream: the key comes from the environment,
    as for any `openai:` model, and never from the client of the front server."""
    upstream = start_server(api_key="upstream-key")
    inner = _model_with_key(upstream.url, "upstream-key")
    monkeypatch.setenv("KUBEBENCH_OPENAI_API_KEY", "upstream-key")
    front = start_server(models=[f"openai:{inner}?base_url={upstream.url}/v1"]).url
    body = {"model": f"openai:{inner}", "messages": USER, "stream": stream}
    if not stream:
        resp = httpx.post(f"{front}/v1/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["choices"][0]["message"]["content"] == CHAT_ANSWER
        assert resp.json()["model"] == inner  # the upstream's answer, as it came
        return
    with httpx.stream("POST", f"{front}/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        events = _events(resp)
    assert events[-1] == "[DONE]"
    text = "".join(
        c["choices"][0]["delta"].get("content", "")
        for c in map(json.loads, events[:-1])
        if c["choices"]
    )
    assert text == CHAT_ANSWER


def _model_with_key(url: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{url}/v1/models", headers=headers).json()["data"][0]["id"]


def test_stop_trimmer_sees_a_stop_split_across_deltas() -> None:
    from kubebench.serve.generation import StopTrimmer

    trimmer = StopTrimmer(("END", "\n\n"))
    sent = [trimmer.feed(piece) for piece in ("abc E", "N", "D tail")]
    assert "".join(sent) == "abc " and trimmer.stopped
    assert trimmer.feed("more") == "" and trimmer.flush() == ""
    plain = StopTrimmer(())
    assert plain.feed("all of it") == "all of it" and plain.flush() == ""
    held = StopTrimmer(("XYZ",))
    assert held.feed("aX") + held.flush() == "aX"


def test_an_upstream_refusing_the_key_is_502_not_401(
    start_server: Callable[..., RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = start_server(api_key="upstream-key")
    inner = _model_with_key(upstream.url, "upstream-key")
    monkeypatch.setenv("KUBEBENCH_OPENAI_API_KEY", "wrong")
    front = start_server(models=[f"openai:{inner}?base_url={upstream.url}/v1"]).url
    for stream in (False, True):
        body = {"model": f"openai:{inner}", "messages": USER, "stream": stream}
        resp = httpx.post(f"{front}/v1/chat/completions", json=body)
        assert resp.status_code == 502
        assert "refused this server's key" in resp.json()["error"]["message"]
