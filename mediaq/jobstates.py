"""The job lifecycle as pure data: which transitions exist and what they mean.

pending -> queued -> running -> completed | failed | cancelled, plus the way back to
pending (retry, rescue, preflight refusal) and cancel from any live state.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
LIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
CANCELLABLE = frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING})
RETRYABLE_BY_USER = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED}),
    # queued -> pending: the reservation was withdrawn (host lost, GPU lost).
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.PENDING, JobStatus.CANCELLED}),
    # running -> pending: retry with backoff, rescue, or a refused preflight.
    JobStatus.RUNNING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.PENDING}),
    JobStatus.CANCELLED: frozenset({JobStatus.PENDING}),
}


def can_transition(current: str, target: str) -> bool:
    """True when a job in ``current`` may move to ``target``."""
    try:
        return JobStatus(target) in TRANSITIONS[JobStatus(current)]
    except ValueError:
        return False


def holds_reservation(status: str) -> bool:
    """A job holds its slot and its GPU reservation exactly while queued or running."""
    return status in LIVE
