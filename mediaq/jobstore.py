"""Fenced writes of one attempt: claim, progress, log, heartbeat, outcome.

The claim is an atomic ``queued -> running`` update that bumps ``attempt``. That number is
the fencing token: every later write of the attempt carries it in its WHERE clause, so a
second delivery, a paused zombie worker or a stale attempt changes nothing (rowcount 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import bindparam

from mediaq.backoff import next_attempt_at, should_retry
from mediaq.pipelines import resolve_pipeline


@dataclass(frozen=True)
class Claim:
    """A job this worker now owns, under fencing token ``attempt``."""

    job_id: int
    attempt: int
    type: str
    params: dict[str, Any]
    resource_category: str
    vram_required: int
    assigned_host: str | None
    assigned_gpu: str | None
    failures: int
    max_attempts: int
    pipeline_id: int | None


_CLAIM = text(
    """
    UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = now(),
           heartbeat_at = now(), updated_at = now(), progress = 0,
           assigned_host = coalesce(assigned_host, :host),
           waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
     WHERE id = :id AND status = 'queued' AND attempt = :expected
       AND assigned_gpu IS NOT DISTINCT FROM :gpu
    RETURNING id, attempt, type, params, resource_category, vram_required,
              assigned_host, assigned_gpu, failures, max_attempts, pipeline_id
    """
)


def claim(
    conn: Connection, job_id: int, expected_attempt: int, host: str, gpu_uuid: str | None
) -> Claim | None:
    """Take a queued job for this delivery, or None when there is nothing to claim.

    ``expected_attempt`` is the attempt number the job had when it was admitted: a message
    from an earlier admission (the job since went back to pending and was placed again) or
    a duplicate of an already claimed one finds no row and is dropped.
    """
    row = conn.execute(
        _CLAIM, {"id": job_id, "expected": expected_attempt, "host": host, "gpu": gpu_uuid}
    ).one_or_none()
    if row is None:
        return None
    return Claim(
        job_id=row.id,
        attempt=row.attempt,
        type=row.type,
        params=dict(row.params or {}),
        resource_category=row.resource_category,
        vram_required=row.vram_required,
        assigned_host=row.assigned_host,
        assigned_gpu=row.assigned_gpu,
        failures=row.failures,
        max_attempts=row.max_attempts,
        pipeline_id=row.pipeline_id,
    )


_OWNED = "id = :id AND attempt = :attempt AND status = 'running'"


def report_progress(conn: Connection, job_id: int, attempt: int, progress: int) -> bool:
    """Set progress (0-100) and refresh the heartbeat; False when the attempt is fenced out."""
    progress = max(0, min(100, int(progress)))
    result = conn.execute(
        text(f"UPDATE jobs SET progress = :p, heartbeat_at = now() WHERE {_OWNED}"),
        {"id": job_id, "attempt": attempt, "p": progress},
    )
    return result.rowcount == 1


def append_log(conn: Connection, job_id: int, attempt: int, chunk: str, cap: int) -> bool:
    """Append to the job's log, keeping only its last ``cap`` characters."""
    result = conn.execute(
        text(f"UPDATE jobs SET log = right(coalesce(log, '') || :chunk, :cap) WHERE {_OWNED}"),
        {"id": job_id, "attempt": attempt, "chunk": _clean(chunk), "cap": cap},
    )
    return result.rowcount == 1


def heartbeat(conn: Connection, job_id: int, attempt: int) -> bool:
    """Refresh the heartbeat; False when the job was cancelled or the attempt superseded."""
    result = conn.execute(
        text(f"UPDATE jobs SET heartbeat_at = now() WHERE {_OWNED}"),
        {"id": job_id, "attempt": attempt},
    )
    return result.rowcount == 1


def still_owned(conn: Connection, job_id: int, attempt: int) -> bool:
    """A read-only check: does this attempt still own a running job?"""
    row = conn.execute(
        text(f"SELECT 1 FROM jobs WHERE {_OWNED}"), {"id": job_id, "attempt": attempt}
    ).first()
    return row is not None


_COMPLETE = text(
    f"""
    UPDATE jobs SET status = 'completed', progress = 100, completed_at = now(),
           updated_at = now(), result = :result,
           log = CASE WHEN :line = '' THEN log ELSE right(coalesce(log, '') || :line, :cap) END
     WHERE {_OWNED}
    RETURNING pipeline_id
    """
).bindparams(bindparam("result", type_=JSONB))


def complete(
    conn: Connection,
    job_id: int,
    attempt: int,
    result: dict[str, Any] | None,
    cap: int,
    log_line: str = "",
) -> bool:
    """Record success under the fencing token; resolves the job's pipeline."""
    row = conn.execute(
        _COMPLETE,
        {"id": job_id, "attempt": attempt, "result": result, "line": _clean(log_line), "cap": cap},
    ).one_or_none()
    if row is None:
        return False
    if row.pipeline_id is not None:
        resolve_pipeline(conn, row.pipeline_id)
    return True


@dataclass(frozen=True)
class FailureOutcome:
    """What a failed attempt became: ``retrying`` (back to pending) or ``failed``."""

    status: str
    failures: int
    not_before: datetime | None


def fail(
    conn: Connection,
    job_id: int,
    attempt: int,
    error: str,
    permanent: bool,
    cap: int,
    now: datetime | None = None,
) -> FailureOutcome | None:
    """Record a failed attempt: retried with backoff, or failed for good. None if fenced out."""
    now = now or datetime.now(UTC)
    row = conn.execute(
        text(f"SELECT failures, max_attempts FROM jobs WHERE {_OWNED} FOR UPDATE"),
        {"id": job_id, "attempt": attempt},
    ).one_or_none()
    if row is None:
        return None
    failures = row.failures + 1
    retry = should_retry(failures, row.max_attempts, permanent)
    status = "pending" if retry else "failed"
    not_before = next_attempt_at(now, failures) if retry else None
    kind = "permanent error" if permanent else "error"
    tail = (
        f"retry {failures}/{row.max_attempts - 1} at {not_before:%H:%M:%S}"
        if retry
        else "giving up"
    )
    line = f"[attempt {attempt}] {kind}: {error}\n[attempt {attempt}] {tail}\n"
    released = conn.execute(
        text(
            """
            UPDATE jobs SET status = :status, failures = :failures, not_before = :nb,
                   last_error = :error, updated_at = now(),
                   completed_at = CASE WHEN :status = 'failed' THEN now() END,
                   assigned_host = NULL, assigned_gpu = NULL, heartbeat_at = NULL,
                   log = right(coalesce(log, '') || :line, :cap)
             WHERE id = :id AND attempt = :attempt AND status = 'running'
            RETURNING pipeline_id
            """
        ),
        {
            "status": status,
            "failures": failures,
            "nb": not_before,
            "error": _clean(error)[:2000],
            "line": _clean(line),
            "cap": cap,
            "id": job_id,
            "attempt": attempt,
        },
    ).one()
    if released.pipeline_id is not None and status == "failed":
        resolve_pipeline(conn, released.pipeline_id)
    return FailureOutcome(status=status, failures=failures, not_before=not_before)


def return_to_pending(
    conn: Connection, job_id: int, attempt: int, code: str, reason: str, cap: int
) -> bool:
    """Give the job back to the scheduler without counting a failure (refused preflight)."""
    result = conn.execute(
        text(
            """
            UPDATE jobs SET status = 'pending', assigned_host = NULL, assigned_gpu = NULL,
                   heartbeat_at = NULL, waiting_code = :code, waiting_reason = :reason,
                   updated_at = now(), log = right(coalesce(log, '') || :line, :cap)
             WHERE id = :id AND attempt = :attempt AND status = 'running'
            """
        ),
        {
            "id": job_id,
            "attempt": attempt,
            "code": code,
            "reason": reason,
            "line": f"[attempt {attempt}] {reason}\n",
            "cap": cap,
        },
    )
    return result.rowcount == 1


def _clean(value: str) -> str:
    # PostgreSQL text cannot hold NUL; ffmpeg output occasionally does.
    return value.replace("\x00", "")
