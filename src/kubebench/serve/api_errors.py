"""Errors as the API answers them: `{"error": {"message": ..., "type": ...}}`, the shape
OpenAI clients read."""

from __future__ import annotations

import json

from starlette.responses import JSONResponse

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "unavailable_error",
}


class ApiError(Exception):
    """Raised by a route: becomes an error response with this status and message."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_body(status: int, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "api_error")}}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def error_bytes(status: int, message: str) -> bytes:
    """The JSON body of an error, for middleware that speaks raw ASGI."""
    return json.dumps(error_body(status, message)).encode()
