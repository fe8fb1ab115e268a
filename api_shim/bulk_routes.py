"""``POST /api/jobs/bulk`` (admin JWT): cancel, retry or delete by ids or by filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api_shim.auth import require_admin
from api_shim.errors import ApiError
from api_shim.params import body_str, json_body
from mediaq.bulk import ACTIONS, MAX_IDS, BulkError, JobFilter, run_bulk
from mediaq.db import engine_for

FILTER_KEYS = {"status", "type", "resourceCategory", "createdBefore", "createdAfter", "text"}


def _when(body: dict[str, Any], name: str) -> datetime | None:
    raw = body_str(body, name, max_length=64)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"filter.{name} must be an ISO-8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def selection_from_body(body: dict[str, Any]) -> JobFilter:
    """``ids`` or ``filter`` (exactly one), validated field by field."""
    has_ids, has_filter = "ids" in body, "filter" in body
    if has_ids == has_filter:
        raise ApiError(400, "give exactly one of ids or filter")
    try:
        if has_ids:
            ids = body["ids"]
            if not isinstance(ids, list) or not ids:
                raise ApiError(400, "ids must be a non-empty array of job ids")
            if len(ids) > MAX_IDS:
                raise ApiError(400, f"at most {MAX_IDS} ids per call; use a filter for more")
            if not all(
                isinstance(i, int) and not isinstance(i, bool) and 1 <= i < 2**31 for i in ids
            ):
                raise ApiError(400, "ids must be positive integers")
            return JobFilter(ids=tuple(ids))
        raw = body["filter"]
        if not isinstance(raw, dict):
            raise ApiError(400, "filter must be an object")
        unknown = sorted(set(raw) - FILTER_KEYS)
        if unknown:
            raise ApiError(
                400,
                f"unknown filter field {unknown[0]!r}; known: {', '.join(sorted(FILTER_KEYS))}",
            )
        return JobFilter(
            status=body_str(raw, "status", max_length=20),
            type=body_str(raw, "type", max_length=100),
            resource_category=body_str(raw, "resourceCategory", max_length=20),
            created_before=_when(raw, "createdBefore"),
            created_after=_when(raw, "createdAfter"),
            text=body_str(raw, "text", max_length=200),
        )
    except BulkError as exc:
        raise ApiError(400, str(exc)) from None


async def bulk_route(request: Request) -> JSONResponse:
    require_admin(request)
    body = await json_body(request, max_bytes=1024 * 1024)
    action = body_str(body, "action", required=True, max_length=20)
    if action not in ACTIONS:
        raise ApiError(400, f"action must be one of: {', '.join(ACTIONS)}")
    selection = selection_from_body(body)
    engine = engine_for(request.app.state.settings.database_url)
    result = await run_in_threadpool(run_bulk, engine, action, selection)
    return JSONResponse({"action": action, "matched": result.matched, "changed": result.changed})


ROUTES = [Route("/api/jobs/bulk", bulk_route, methods=["POST"])]
