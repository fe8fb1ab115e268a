"""Operator actions on one job: cancel and retry.

Cancel flips a live job to ``cancelled`` with a conditional update. A queued job's message
may still sit in the broker; its claim then finds no ``queued`` row and is dropped. A running
job's worker notices within ``cancel_poll_s`` and ends the handler's process group.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from mediaq.errors import Conflict, NotFound
from mediaq.pipelines import resolve_pipeline


def cancel_job(session: Session, job_id: int) -> None:
    """Cancel a pending, queued or running job; its reservation is released with it."""
    row = session.execute(
        text(
            """
            UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(),
                   waiting_code = NULL, waiting_reason = NULL, queue_position = NULL,
                   held = false, log = coalesce(log, '') || 'cancelled by request' || chr(10)
             WHERE id = :id AND status IN ('pending', 'queued', 'running')
            RETURNING pipeline_id
            """
        ),
        {"id": job_id},
    ).one_or_none()
    if row is None:
        _raise_for_state(session, job_id, "cancel", "it is already")
        return
    if row.pipeline_id is not None:
        resolve_pipeline(session, row.pipeline_id)


def retry_job(session: Session, job_id: int) -> None:
    """Put a failed or cancelled job back to pending with a fresh retry budget."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        text(
            """
            UPDATE jobs SET status = 'pending', failures = 0, not_before = NULL,
                   progress = 0, completed_at = NULL, started_at = NULL, updated_at = now(),
                   assigned_host = NULL, assigned_gpu = NULL, heartbeat_at = NULL,
                   result = NULL,
                   held = coalesce(depends_on <> '{}' AND EXISTS (
                       SELECT 1 FROM jobs d WHERE d.id = ANY(jobs.depends_on)
                          AND d.status <> 'completed'), false),
                   log = coalesce(log, '') || 'retried by request' || chr(10)
             WHERE id = :id AND status IN ('failed', 'cancelled')
            """
        ),
        {"id": job_id},
    )
    if result.rowcount == 0:
        _raise_for_state(session, job_id, "retry", "only failed or cancelled jobs can be; it is")


def _raise_for_state(session: Session, job_id: int, verb: str, phrase: str) -> None:
    status = session.execute(
        text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}
    ).scalar_one_or_none()
    if status is None:
        raise NotFound("Job not found")
    raise Conflict(f"cannot {verb} job {job_id}: {phrase} {status}")
