"""Fenced writes of a running attempt that leave its status alone: progress, log, heartbeat.

The claim, the outcome and every other change of status live in ``mediaq.transitions``.
Every write carries the attempt number (the fencing token) in its WHERE clause, so a
paused zombie worker or a stale attempt changes nothing (rowcount 0).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

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


def lock_owned(conn: Connection, job_id: int, attempt: int) -> bool:
    """Lock the job row for the rest of the caller's transaction if this attempt owns it.

    ``FOR SHARE``: the attempt's own writes elsewhere (progress, heartbeat) are only delayed
    to the commit, while a rescue, a claim or another attempt's outcome waits (or skips the
    row) until the caller's transaction ends.
    """
    row = conn.execute(
        text(f"SELECT 1 FROM jobs WHERE {_OWNED} FOR SHARE"), {"id": job_id, "attempt": attempt}
    ).first()
    return row is not None


def still_owned(conn: Connection, job_id: int, attempt: int) -> bool:
    """A read-only check: does this attempt still own a running job?"""
    row = conn.execute(
        text(f"SELECT 1 FROM jobs WHERE {_OWNED}"), {"id": job_id, "attempt": attempt}
    ).first()
    return row is not None


def _clean(value: str) -> str:
    # PostgreSQL text cannot hold NUL; ffmpeg output occasionally does.
    return value.replace("\x00", "")
