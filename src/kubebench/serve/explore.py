"""The JSON API the web UI reads (`/api/...`, all GET, paged with ?offset=&limit=) and
the downloads (`/downloads/{id}`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import FileResponse

from kubebench import defaults
from kubebench.serve import catalog
from kubebench.serve.api_errors import ApiError
from kubebench.serve.state import ServeState

router = APIRouter()

Offset = Query(0, ge=0)
Limit = Query(defaults.SERVE_PAGE_LIMIT, ge=1, le=defaults.SERVE_PAGE_LIMIT_MAX)


def _state(request: Request) -> ServeState:
    return request.app.state.serve


@router.get("/api/tasks")
async def tasks(
    split: str | None = None,
    kind: str | None = None,
    tier: str | None = None,
    operation: str | None = None,
    q: str | None = None,
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    items = await asyncio.to_thread(catalog.list_tasks, split, kind, tier, operation, q)
    facets = await asyncio.to_thread(catalog.task_facets)
    return {**catalog.page(items, offset, limit), "facets": facets}


@router.get("/api/tasks/{task_id}")
async def task(task_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(catalog.task_detail, task_id)


# Reading a run (and building its report) is file work: done in a worker thread so
# streams keep flowing meanwhile.


@router.get("/api/runs")
async def runs(request: Request, offset: int = Offset, limit: int = Limit) -> dict[str, Any]:
    found = await asyncio.to_thread(_state(request).catalog.runs)
    return catalog.page([catalog.run_item(r) for r in found], offset, limit)


@router.get("/api/runs/{run_id}")
async def run(request: Request, run_id: str) -> dict[str, Any]:
    found = await asyncio.to_thread(_state(request).catalog.run, run_id)
    return catalog.run_detail(found)


@router.get("/api/runs/{run_id}/attempts")
async def attempts(
    request: Request,
    run_id: str,
    kind: str | None = None,
    tier: str | None = None,
    passed: bool | None = None,
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    found = await asyncio.to_thread(_state(request).catalog.run, run_id)
    return catalog.page(catalog.list_attempts(found, kind, tier, passed), offset, limit)


@router.get("/api/runs/{run_id}/attempts/{attempt_id}")
async def attempt(request: Request, run_id: str, attempt_id: str) -> dict[str, Any]:
    found = await asyncio.to_thread(_state(request).catalog.run, run_id)
    return await asyncio.to_thread(catalog.attempt_detail, found, attempt_id)


@router.get("/api/leaderboard")
async def leaderboard(request: Request, offset: int = Offset, limit: int = Limit) -> dict[str, Any]:
    items = await asyncio.to_thread(catalog.leaderboard_items, _state(request).catalog)
    return catalog.page(items, offset, limit)


@router.get("/api/downloads")
async def downloads(request: Request) -> dict[str, Any]:
    items = [d.as_item() for d in _state(request).downloads.items.values()]
    return {"items": items, "total": len(items)}


@router.get("/downloads/{download_id}")
async def download(request: Request, download_id: str) -> FileResponse:
    item = _state(request).downloads.get(download_id)
    if item is None:
        raise ApiError(404, "no such download")
    return FileResponse(
        item.served,
        filename=item.name,
        media_type="application/gzip" if item.name.endswith(".tar.gz") else None,
        headers={"X-Checksum-Sha256": item.sha256},
    )
