"""Writing jobs: one at a time or in bulk, inside the caller's own transaction.

Nothing is published here. The insert fires a NOTIFY (a trigger in the schema) that wakes
the scheduler, which admits and publishes once the caller's transaction commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from mediaq.errors import ValidationError
from mediaq.jobtypes import job_type, resolve_resources
from mediaq.models import UNIQUE_LIVE_PREDICATE, Job

PRIORITY_MIN, PRIORITY_MAX = -1000, 1000
DEFAULT_PRIORITY = 5
MAX_PARAMS_BYTES = 64 * 1024
MAX_VRAM_MIB = 16 * 1024 * 1024
MAX_UNIQUE_KEY = 200


@dataclass(frozen=True)
class JobSpec:
    """What a caller asks for; the rest comes from the job type's defaults."""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    priority: int = DEFAULT_PRIORITY
    resource_category: str | None = None
    vram_required: int | None = None
    max_attempts: int | None = None
    cpu_only: bool = False  # the deployment runs GPU job types on CPU slots (MEDIAQ_CPU_ONLY)
    # while a job with this key is pending, queued or running, enqueueing returns that job
    unique_key: str | None = None


def job_row(spec: JobSpec) -> dict[str, Any]:
    """Validate a spec and return the column values of its row (pure)."""
    kind = job_type(spec.type)
    if not isinstance(spec.params, Mapping):
        raise ValidationError("params must be an object")
    params = dict(spec.params)
    kind.parse_params(params)  # stored as given; the handler reads them through the same model
    try:
        encoded = json.dumps(params)
    except (TypeError, ValueError):
        raise ValidationError("params must be JSON-serializable") from None
    if len(encoded) > MAX_PARAMS_BYTES:
        raise ValidationError(f"params must be at most {MAX_PARAMS_BYTES} bytes as JSON")
    if "\\u0000" in encoded:
        raise ValidationError("params must not contain NUL characters")
    if isinstance(spec.priority, bool) or not isinstance(spec.priority, int):
        raise ValidationError("priority must be an integer")
    if not PRIORITY_MIN <= spec.priority <= PRIORITY_MAX:
        raise ValidationError(f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
    if spec.vram_required is not None and (
        isinstance(spec.vram_required, bool)
        or not isinstance(spec.vram_required, int)
        or not 0 <= spec.vram_required <= MAX_VRAM_MIB
    ):
        raise ValidationError(f"vramRequired must be an integer between 0 and {MAX_VRAM_MIB}")
    category, vram = resolve_resources(
        spec.type, spec.resource_category, spec.vram_required, spec.cpu_only
    )
    max_attempts = kind.max_attempts if spec.max_attempts is None else spec.max_attempts
    if not 1 <= max_attempts <= 100:
        raise ValidationError("maxAttempts must be between 1 and 100")
    if spec.unique_key is not None and (
        not isinstance(spec.unique_key, str)
        or not 1 <= len(spec.unique_key) <= MAX_UNIQUE_KEY
        or "\x00" in spec.unique_key
    ):
        raise ValidationError(f"uniqueKey must be a string of 1 to {MAX_UNIQUE_KEY} characters")
    return {
        "type": spec.type,
        "params": params,
        "priority": spec.priority,
        "resource_category": category,
        "vram_required": vram,
        "max_attempts": max_attempts,
        "status": "pending",
        "unique_key": spec.unique_key,
    }


def enqueue(session: Session, spec: JobSpec, **extra: Any) -> int:
    """Insert one job in the caller's transaction and return its id.

    With ``spec.unique_key``, the id of the live job holding that key when there is one.
    """
    return enqueue_job(session, spec, **extra)[0]


def enqueue_job(session: Session, spec: JobSpec, **extra: Any) -> tuple[int, bool]:
    """Insert one job; ``(id, True)`` when a row was written, ``(id, False)`` when a live job
    with the same ``unique_key`` exists and is returned instead.

    Uniqueness is the partial unique index ``idx_jobs_unique_live``: the insert does nothing
    on conflict (waiting for a concurrent inserter of the same key to commit or roll back),
    then the live holder is read. Should that job finish in between, the insert is tried
    again, so the answer is always a job that was live with that key.
    """
    row = job_row(spec) | extra
    if row.get("unique_key") is None:
        job_id = session.execute(insert(Job).values(**row).returning(Job.id)).scalar_one()
        return int(job_id), True
    for _ in range(10):
        created = session.execute(
            pg_insert(Job)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=["unique_key"], index_where=text(UNIQUE_LIVE_PREDICATE)
            )
            .returning(Job.id)
        ).scalar_one_or_none()
        if created is not None:
            return int(created), True
        holder = session.execute(
            text(f"SELECT id FROM jobs WHERE unique_key = :k AND {UNIQUE_LIVE_PREDICATE}"),
            {"k": row["unique_key"]},
        ).scalar_one_or_none()
        if holder is not None:
            return int(holder), False
    raise ValidationError(f"uniqueKey {row['unique_key']!r} is changing too fast; try again")


def enqueue_many(session: Session, specs: Iterable[JobSpec]) -> list[int]:
    """Insert many jobs in one statement batch; ids come back in the order of ``specs``.

    Jobs with a ``unique_key`` go one by one (each may return an existing job)."""
    specs = list(specs)
    if any(spec.unique_key is not None for spec in specs):
        return [enqueue(session, spec) for spec in specs]
    rows = [job_row(spec) for spec in specs]
    if not rows:
        return []
    return insert_rows(session, rows)


_NEXT_IDS = text("SELECT nextval('jobs_id_seq') FROM generate_series(1, :n)")
_INSERT_ARRAYS = text(
    """
    INSERT INTO jobs (id, type, params, priority, resource_category, vram_required,
                      max_attempts, status)
    SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:types AS text[]),
                         CAST(:params AS jsonb[]), CAST(:priorities AS int[]),
                         CAST(:categories AS text[]), CAST(:vram AS int[]),
                         CAST(:max_attempts AS int[]), CAST(:statuses AS text[]))
    """
)


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert validated job rows in one statement of column arrays; ids in row order.

    The ids are drawn from the sequence first, so the order of ``rows`` is the order of
    the ids (which break ties of ``created_at`` in the queue: the whole batch shares one).
    """
    ids = [int(i) for i in session.execute(_NEXT_IDS, {"n": len(rows)}).scalars()]
    session.execute(
        _INSERT_ARRAYS,
        {
            "ids": ids,
            "types": [r["type"] for r in rows],
            "params": [json.dumps(r["params"]) for r in rows],
            "priorities": [r["priority"] for r in rows],
            "categories": [r["resource_category"] for r in rows],
            "vram": [r["vram_required"] for r in rows],
            "max_attempts": [r["max_attempts"] for r in rows],
            "statuses": [r["status"] for r in rows],
        },
    )
    return ids
