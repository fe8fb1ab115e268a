"""Row -> JSON: camelCase keys, ISO-8601 UTC timestamps with milliseconds (as the seed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediaq.jsonfmt import iso

__all__ = ["ATTEMPT_COLUMNS", "JOB_COLUMNS", "camel", "iso", "job_to_json", "row_to_json"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def row_to_json(row: Any, columns: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        value = getattr(row, column)
        out[camel(column)] = iso(value) if isinstance(value, datetime) else value
    return out


JOB_COLUMNS = [
    "id",
    "type",
    "status",
    "progress",
    "log",
    "params",
    "started_at",
    "completed_at",
    "created_at",
    "resource_category",
    "vram_required",
    "queue_position",
    "waiting_reason",
    "priority",
    "pipeline_id",
    "pipeline_step_id",
    "attempt",
    "max_attempts",
    "failures",
    "result",
    "assigned_host",
    "assigned_gpu",
    "waiting_code",
    "heartbeat_at",
    "not_before",
    "queued_at",
    "last_error",
    "depends_on",
    "unique_key",
]

ATTEMPT_COLUMNS = ["attempt", "started_at", "ended_at", "host", "gpu", "outcome", "error"]


def job_to_json(job: Any) -> dict[str, Any]:
    """Every column of the seed's jobs table in camelCase, plus the engine's columns."""
    return row_to_json(job, JOB_COLUMNS)
