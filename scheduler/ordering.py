"""Slot admission for the CPU class, and the waiting reasons shared by every class.

Pure: pending jobs in exact (priority desc, created_at, id) order, the free slots and the
current time in; placements and waiting reasons out. Jobs are admitted strictly from the
head: the broker only ever holds what free slots will start at once (plus an optional
lookahead), so a later job of higher priority still goes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scheduler.model import PendingJob, Placement, Plan, Waiting


def blocked_reason(job: PendingJob, now: datetime) -> tuple[str, str] | None:
    """A reason that has nothing to do with capacity: a pause, dependencies, retry backoff."""
    if job.paused:
        return "PAUSED", job.paused
    if job.held:
        return "DEPENDENCY", job.held_reason or "DEPENDENCY: waits for earlier pipeline steps"
    if job.not_before is not None and job.not_before > now:
        wait_s = (job.not_before - now).total_seconds()
        return "RETRY_BACKOFF", f"RETRY_BACKOFF: retrying in {wait_s:.0f} s after a failed attempt"
    return None


def plan_slots(
    pending: Sequence[PendingJob],
    slots: int,
    busy: int,
    now: datetime,
    lookahead: int = 0,
    class_name: str = "cpu",
) -> Plan:
    """Admit from the head while slots are free; give every other job its reason."""
    free = slots + lookahead - busy
    admitted: list[Placement] = []
    waiting: list[Waiting] = []
    ahead_eligible = 0
    for position, job in enumerate(pending, start=1):
        blocked = blocked_reason(job, now)
        if blocked is not None:
            waiting.append(Waiting(job.id, position, *blocked))
            continue
        if slots <= 0:
            waiting.append(
                Waiting(
                    job.id,
                    position,
                    "NO_WORKERS",
                    f"NO_WORKERS: no live worker serves class {class_name}; start a worker "
                    f"host serving it (`mediaq worker`, MEDIAQ_CLASSES includes {class_name})",
                )
            )
            continue
        if free > 0:
            admitted.append(Placement(job.id))
            free -= 1
            continue
        if ahead_eligible == 0:
            reason = (
                f"SLOTS_BUSY: next in {class_name}; all {slots} slots busy "
                f"({busy} queued or running)"
            )
            waiting.append(Waiting(job.id, position, "SLOTS_BUSY", reason))
        else:
            # no count in the text: it would change on every pass of a draining backlog
            # (the position says how far back the job is)
            reason = (
                f"PRIORITY: waits behind higher-priority or older jobs in {class_name} "
                f"(priority {job.priority})"
            )
            waiting.append(Waiting(job.id, position, "PRIORITY", reason))
        ahead_eligible += 1
    return Plan(tuple(admitted), tuple(waiting))
