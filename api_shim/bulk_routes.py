"""``POST /api/jobs/bulk`` (admin JWT): cancel, retry or delete by ids or by filter."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.bodies import BulkBody, BulkFilter
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from mediaq.bulk import BulkError, JobFilter, run_bulk
from mediaq.db import engine_for


def _when(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError.bad_request(f"filter.{name} must be an ISO-8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def selection_of(body: BulkBody) -> JobFilter:
    """The jobs the body selects: its ``ids``, or its ``filter`` (checked by the core)."""
    try:
        if body.ids is not None:
            return JobFilter(ids=tuple(body.ids))
        raw: BulkFilter = body.filter or BulkFilter()
        return JobFilter(
            status=raw.status,
            type=raw.type,
            resource_category=raw.resource_category,
            created_before=_when(raw.created_before, "createdBefore"),
            created_after=_when(raw.created_after, "createdAfter"),
            text=raw.needle,
        )
    except BulkError as exc:
        raise ApiError.bad_request(str(exc)) from None


async def bulk_route(request: Request, body: BulkBody) -> JSONResponse:
    selection = selection_of(body)
    engine = engine_for(request.app.state.settings.database_url)
    result = await run_in_threadpool(run_bulk, engine, body.action, selection)
    return JSONResponse(
        {"action": body.action, "matched": result.matched, "changed": result.changed}
    )


ROUTES = [
    api(
        "/api/jobs/bulk",
        bulk_route,
        Endpoint(
            "Cancel, retry or delete jobs by ids or by filter, in batches",
            a.BulkAnswer,
            auth="admin",
            body=BulkBody,
            max_body=1024 * 1024,
        ),
        "POST",
    )
]
