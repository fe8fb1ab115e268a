"""Operator actions on one job: cancel and retry.

Both are transitions of ``mediaq.transitions``; this module turns "not in a state that
allows it" into the API's 404/409. Cancel flips a live job to ``cancelled``. A queued job's message
may still sit in the broker; its claim then finds no ``queued`` row and is dropped. A running
job's worker notices within ``cancel_poll_s`` and ends the handler's process group.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from mediaq import transitions
from mediaq.errors import Conflict, NotFound


def cancel_job(session: Session, job_id: int) -> None:
    """Cancel a pending, queued or running job; its reservation is released with it."""
    if not transitions.cancel(session, job_id):
        _raise_for_state(session, job_id, "cancel", "it is already")


def retry_job(session: Session, job_id: int) -> None:
    """Put a failed or cancelled job back to pending with a fresh retry budget."""
    if not transitions.retry(session, job_id):
        _raise_for_state(session, job_id, "retry", "only failed or cancelled jobs can be; it is")


def _raise_for_state(session: Session, job_id: int, verb: str, phrase: str) -> None:
    status = session.execute(
        text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}
    ).scalar_one_or_none()
    if status is None:
        raise NotFound("Job not found")
    raise Conflict(f"cannot {verb} job {job_id}: {phrase} {status}")
