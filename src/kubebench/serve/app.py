"""`create_app(settings)`: the FastAPI app of `kubebench serve`.

Models load in the background at startup (`/health` answers 503 until every one is
ready); the validator's scratch namespace is made at startup too. Every request passes
the protections (`serve.protections`): rate limit, API key, body size.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles

from kubebench import __version__
from kubebench.cluster.client import KubeClient
from kubebench.errors import InfrastructureError, KubeBenchError
from kubebench.serve import chat, explore
from kubebench.serve.api_errors import ApiError, error_response
from kubebench.serve.catalog import RunCatalog, find_task
from kubebench.serve.downloads import DownloadRegistry
from kubebench.serve.model_pool import ModelPool
from kubebench.serve.protections import Guard, RequestMetrics, TokenBucket
from kubebench.serve.settings import ServeSettings
from kubebench.serve.state import ServeState
from kubebench.serve.validation import Validator

log = logging.getLogger("kubebench.serve")

STATIC_DIR = Path(__file__).parent / "static"
_NO_UI = (
    "<!doctype html><title>kubebench serve</title>"
    "<p>kubebench serve: the web UI is not installed; the API is at /v1 and /api.</p>"
)


class ValidateRequest(BaseModel):
    """`POST /v1/validate`: YAML (one or more documents, or a Markdown answer)."""

    yaml: str
    task_id: str | None = Field(None, description="validate under this task's scope rules")


async def _prepare_validation(state: ServeState) -> None:
    assert state.kube is not None
    validator = Validator(state.kube)
    try:
        await validator.prepare()
        state.validator = validator
    except KubeBenchError as exc:
        state.validation_error = exc.one_line()
        log.error("validation unavailable: %s", state.validation_error)
    finally:
        state.validation_ready.set()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServeState = app.state.serve
    state.background.append(asyncio.create_task(state.pool.load()))
    if state.settings.connection is not None:
        state.kube = KubeClient(state.settings.connection)
        state.background.append(asyncio.create_task(_prepare_validation(state)))
    else:
        state.validation_error = "no control plane: this server was started without one"
        state.validation_ready.set()
    try:
        yield
    finally:
        for task in state.background:
            task.cancel()
        await asyncio.gather(*state.background, return_exceptions=True)
        await state.pool.aclose()
        if state.kube is not None:
            await state.kube.aclose()


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid request')}"
            if where
            else first.get("msg", "invalid request")
        )
        return error_response(400, f"invalid request: {message}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return error_response(exc.status_code, detail, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, f"internal error: {type(exc).__name__}")

    @app.exception_handler(InfrastructureError)
    async def infrastructure(request: Request, exc: InfrastructureError) -> Response:
        return error_response(503, exc.one_line())


def create_app(settings: ServeSettings) -> FastAPI:
    """The app for `settings` (checked: an unsafe host without a key is a UserError)."""
    settings.check()
    downloads = DownloadRegistry(settings.download_cache)
    for path in settings.register:
        downloads.register(path)
    pool = ModelPool(
        settings.models,
        max_generations=settings.max_generations,
        max_queued=settings.max_queued,
        queue_wait_s=settings.queue_wait_s,
    )
    state = ServeState(settings, pool, RunCatalog(settings.runs_dir), downloads)
    app = FastAPI(
        title="kubebench serve",
        version=__version__,
        lifespan=_lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.serve = state
    _handlers(app)
    app.include_router(chat.router)
    app.include_router(explore.router)
    _core_routes(app, state)
    if STATIC_DIR.is_dir():  # the web UI's files, when installed
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Added last = outermost: metrics see every answer, the guard's refusals included.
    limiter = TokenBucket(settings.rate_per_s, settings.rate_burst)
    app.add_middleware(
        Guard, api_key=settings.api_key, limiter=limiter, max_body_bytes=settings.max_body_bytes
    )
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    return app


def _core_routes(app: FastAPI, state: ServeState) -> None:
    @app.get("/health")
    async def health() -> Response:
        pool = state.pool
        validation = (
            "ready"
            if state.validator is not None
            else ("starting" if not state.validation_ready.is_set() else "unavailable")
        )
        body: dict[str, Any] = {"models": list(pool.models), "validation": validation}
        if state.validation_error:
            body["validation_error"] = state.validation_error
        if pool.loading:
            return JSONResponse({"status": "loading", **body}, status_code=503)
        if pool.errors:
            return JSONResponse({"status": "error", "errors": pool.errors, **body}, status_code=503)
        return JSONResponse({"status": "ok", **body})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(
            state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/v1/validate")
    async def validate(body: ValidateRequest) -> dict[str, Any]:
        task = await asyncio.to_thread(find_task, body.task_id) if body.task_id else None
        await state.validation_ready.wait()
        if state.validator is None:
            raise ApiError(503, f"validation unavailable: {state.validation_error}")
        started = time.perf_counter()
        try:
            return await state.validator.validate(body.yaml, task)
        finally:
            state.metrics.validate_latency.observe(time.perf_counter() - started)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = STATIC_DIR / "index.html"
        return FileResponse(page) if page.is_file() else HTMLResponse(_NO_UI)
