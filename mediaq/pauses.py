"""Pausing a resource class, or one job type within a class.

A pause is a row of ``queue_pauses`` (``type = ''`` for the whole class). Admission skips the
pending jobs a pause covers; they stay pending with the waiting code ``PAUSED`` and a sentence
naming who paused them and when. Jobs already queued or running finish. The row lives in
PostgreSQL, so a pause survives every scheduler and API restart and a scheduler failover;
resuming deletes it and wakes the scheduler, which admits in exact priority order again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from mediaq.errors import ValidationError
from mediaq.jobtypes import JOB_TYPES
from mediaq.jsonfmt import iso
from mediaq.settings import RESOURCE_CLASSES

PAUSED = "PAUSED"
NOTIFY_CHANNEL = "mediaq_jobs"  # the scheduler's wake-up channel (scheduler.service.CHANNEL)

# SQL condition on a ``jobs`` row: no pause covers it (used where admission filters in SQL).
NOT_PAUSED_SQL = (
    "NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.resource_category = "
    "jobs.resource_category AND qp.type IN ('', jobs.type))"
)


@dataclass(frozen=True)
class Pause:
    resource_category: str
    type: str  # '' pauses the whole class
    paused_by: str
    paused_at: datetime

    @property
    def scope(self) -> str:
        if self.type:
            return f"type {self.type} in {self.resource_category}"
        return f"class {self.resource_category}"

    def reason(self) -> str:
        """The waiting reason of a job this pause holds back."""
        return f"{PAUSED}: {self.scope} paused by {self.paused_by} at {iso(self.paused_at)}"

    def to_json(self) -> dict[str, object]:
        return {
            "resourceCategory": self.resource_category,
            "type": self.type or None,
            "pausedBy": self.paused_by,
            "pausedAt": iso(self.paused_at),
        }


def covering(pauses: Iterable[Pause], resource_category: str, job_type: str) -> Pause | None:
    """The pause that holds back a job of this class and type; the class-wide one first."""
    found = None
    for pause in pauses:
        if pause.resource_category != resource_category:
            continue
        if pause.type == "":
            return pause
        if pause.type == job_type:
            found = pause
    return found


def check_scope(resource_category: str, job_type: str | None) -> str:
    """Validate a pause scope; returns the stored type ('' for the whole class)."""
    if resource_category not in RESOURCE_CLASSES:
        raise ValidationError(f"class must be one of: {', '.join(RESOURCE_CLASSES)}")
    if job_type is None or job_type == "":
        return ""
    if job_type not in JOB_TYPES:
        raise ValidationError(f"unknown job type {job_type!r}")
    return job_type


Conn = Connection | Session


def load_pauses(conn: Conn) -> list[Pause]:
    rows = conn.execute(
        text(
            "SELECT resource_category, type, paused_by, paused_at FROM queue_pauses "
            "ORDER BY resource_category, type"
        )
    ).all()
    return [Pause(r.resource_category, r.type, r.paused_by, r.paused_at) for r in rows]


def pause(conn: Conn, resource_category: str, job_type: str | None, by: str) -> Pause:
    """Pause a class or a type within it; pausing again keeps the first pause."""
    stored = check_scope(resource_category, job_type)
    conn.execute(
        text(
            "INSERT INTO queue_pauses (resource_category, type, paused_by) "
            "VALUES (:c, :t, :by) ON CONFLICT DO NOTHING"
        ),
        {"c": resource_category, "t": stored, "by": by[:200]},
    )
    row = conn.execute(
        text(
            "SELECT resource_category, type, paused_by, paused_at FROM queue_pauses "
            "WHERE resource_category = :c AND type = :t"
        ),
        {"c": resource_category, "t": stored},
    ).one()
    _wake_scheduler(conn)
    return Pause(row.resource_category, row.type, row.paused_by, row.paused_at)


def resume(conn: Conn, resource_category: str, job_type: str | None) -> bool:
    """Lift a pause; False when there was none. The scheduler wakes at commit."""
    stored = check_scope(resource_category, job_type)
    gone = conn.execute(
        text(
            "DELETE FROM queue_pauses WHERE resource_category = :c AND type = :t "
            "RETURNING resource_category"
        ),
        {"c": resource_category, "t": stored},
    ).first()
    _wake_scheduler(conn)
    return gone is not None


def _wake_scheduler(conn: Conn) -> None:
    conn.execute(text("SELECT pg_notify(:ch, 'pause')"), {"ch": NOTIFY_CHANNEL})
