"""`openai:` models are proxied: the request goes to the upstream endpoint as it came
(with the upstream's model name and key), and its answer, streamed or not, comes back
byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.responses import Response

from kubebench.models.openai import OpenAIProvider, encode_body
from kubebench.serve.api_errors import ApiError
from kubebench.serve.responses import ClosingStream

_PASSED_HEADERS = ("content-type", "cache-control", "retry-after")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() in _PASSED_HEADERS}


def _refused_key(provider: OpenAIProvider, status: int, content: bytes) -> ApiError:
    # Passed on as is, a 401 would tell the client that *its* key to this server is wrong.
    detail = content.decode("utf-8", "replace")[:300]
    return ApiError(
        502, f"upstream {provider.base_url} refused this server's key (HTTP {status}): {detail}"
    )


async def proxy_chat(
    provider: OpenAIProvider, body: dict[str, Any], *, on_close: Callable[[], None]
) -> Response:
    """Forward one chat request to the provider's endpoint; `on_close()` runs once the
    answer is fully sent (or failed)."""
    upstream = {**body, "model": provider.name}
    # The provider's client carries the upstream key and timeouts; its base URL keeps
    # any credentials the environment put in it, which `base_url` (shown) strips.
    client = provider._http()
    url = f"{provider._url}/chat/completions"
    request = client.build_request(
        "POST", url, content=encode_body(upstream), headers={"Content-Type": "application/json"}
    )
    stream = bool(body.get("stream"))
    try:
        response = await client.send(request, stream=stream)
    except httpx.HTTPError as exc:
        on_close()
        raise ApiError(502, f"upstream {provider.base_url} failed: {type(exc).__name__}") from None

    async def close() -> None:
        await response.aclose()
        on_close()

    if not stream or response.status_code != 200:
        content = await response.aread()
        await close()
        if response.status_code in (401, 403):
            raise _refused_key(provider, response.status_code, content)
        return Response(content, response.status_code, headers=_headers(response))
    return ClosingStream(response.aiter_raw(), close, headers=_headers(response))
