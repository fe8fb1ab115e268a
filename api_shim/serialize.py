"""Row -> JSON: camelCase keys, ISO-8601 UTC timestamps with milliseconds (as the seed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from sqlalchemy import FromClause

from mediaq.jsonfmt import iso

__all__ = [
    "ATTEMPT_COLUMNS",
    "JOB_COLUMNS",
    "camel",
    "iso",
    "job_to_json",
    "row_model",
    "row_to_json",
]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def row_to_json(row: Any, columns: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        value = getattr(row, column)
        out[camel(column)] = iso(value) if isinstance(value, datetime) else value
    return out


def row_model(name: str, table: FromClause, columns: list[str], **more: Any) -> type[BaseModel]:
    """The model of ``row_to_json(row, columns)``: each column's Python type (timestamps as
    text), nullable as the column is; ``more`` adds fields (``name=(type, default)``)."""
    fields: dict[str, Any] = {}
    for column in columns:
        sql = table.c[column]
        kind: Any = sql.type.python_type
        kind = {datetime: str, object: Any, list: list[Any], dict: dict[str, Any]}.get(kind, kind)
        fields[camel(column)] = (kind | None if sql.nullable else kind, ...)
    config = ConfigDict(extra="forbid")
    return create_model(name, __config__=config, **fields, **more)


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
