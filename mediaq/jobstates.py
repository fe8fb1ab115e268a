"""The job lifecycle as pure data and pure decisions (no I/O anywhere in here).

pending -> queued -> running -> completed | failed | cancelled, plus the way back to
pending (retry, rescue, preflight refusal) and cancel from any live state.

Every change of a job's status is one of the ``Event``\\ s below. ``EVENTS`` says from which
statuses an event may start and where it leads; ``TRANSITIONS`` is derived from it, and
``mediaq.transitions`` (the only module that writes ``jobs.status``) builds the ``WHERE
status IN (...)`` guard of each of its statements from the same entry. A new kind of
transition is one new ``Event`` and one ``EventRule`` here, then its statement there.

The decisions (retry or fail after a failed attempt and the backoff; what a pipeline does
after one of its steps settled) are functions of plain values, shared by every path that
leads to them: a handler's error, a lost heartbeat and a lost GPU all go through
``decide_failure``.

``JobState``/``apply`` is the same machine as a value model: it is what the property test
drives through arbitrary event sequences, and what the database statements are checked
against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from mediaq.backoff import retry_delay_s


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


class Event(StrEnum):
    """Everything that changes a job's status, reservation or attempt."""

    ADMIT = "admit"  # the scheduler reserved a slot (and a GPU): pending -> queued
    WITHDRAW = "withdraw"  # reservation taken back before any start (host or GPU lost)
    CLAIM = "claim"  # a delivery took the job; the attempt number (fencing token) grows
    COMPLETE = "complete"
    FAIL = "fail"  # an attempt failed (handler error, lost heartbeat, lost GPU)
    REFUSE = "refuse"  # the preflight refused to start: back to pending, not a failure
    CANCEL = "cancel"  # by request, or the rest of a pipeline after a broken step
    RETRY = "retry"  # by request: a failed or cancelled job gets a fresh retry budget


@dataclass(frozen=True)
class EventRule:
    sources: frozenset[JobStatus]
    targets: frozenset[JobStatus]

    @property
    def source_values(self) -> tuple[str, ...]:
        """The sources as sorted plain strings (for SQL ``IN`` lists)."""
        return tuple(sorted(s.value for s in self.sources))


def _rule(sources: Iterable[JobStatus], *targets: JobStatus) -> EventRule:
    return EventRule(frozenset(sources), frozenset(targets))


S = JobStatus
EVENTS: dict[Event, EventRule] = {
    Event.ADMIT: _rule([S.PENDING], S.QUEUED),
    Event.WITHDRAW: _rule([S.QUEUED], S.PENDING),
    Event.CLAIM: _rule([S.QUEUED], S.RUNNING),
    Event.COMPLETE: _rule([S.RUNNING], S.COMPLETED),
    # retried with backoff (pending) or failed for good
    Event.FAIL: _rule([S.RUNNING], S.PENDING, S.FAILED),
    Event.REFUSE: _rule([S.RUNNING], S.PENDING),
    Event.CANCEL: _rule(CANCELLABLE, S.CANCELLED),
    Event.RETRY: _rule(RETRYABLE_BY_USER, S.PENDING),
}
del S


def _derive_transitions() -> dict[JobStatus, frozenset[JobStatus]]:
    table: dict[JobStatus, set[JobStatus]] = {s: set() for s in JobStatus}
    for rule in EVENTS.values():
        for source in rule.sources:
            table[source] |= rule.targets
    return {s: frozenset(t) for s, t in table.items()}


TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = _derive_transitions()


def can_transition(current: str, target: str) -> bool:
    """True when a job in ``current`` may move to ``target``."""
    try:
        return JobStatus(target) in TRANSITIONS[JobStatus(current)]
    except ValueError:
        return False


def holds_reservation(status: str) -> bool:
    """A job holds its slot and its GPU reservation exactly while queued or running."""
    return status in LIVE


def sources(event: Event) -> tuple[str, ...]:
    """The statuses ``event`` may start from, as plain strings."""
    return EVENTS[event].source_values


# ---- decisions -------------------------------------------------------------------------------


class FailureCause(StrEnum):
    ERROR = "error"  # the handler raised
    PERMANENT = "permanent error"  # the handler raised PermanentError: never retried
    HEARTBEAT_LOST = "heartbeat lost"  # the worker stopped heartbeating (killed, host lost)
    GPU_LOST = "GPU lost"  # the GPU the attempt ran on was lost


@dataclass(frozen=True)
class FailureDecision:
    """What a failed attempt becomes."""

    status: JobStatus  # PENDING (retried) or FAILED
    failures: int  # the new failure count
    delay_s: float  # seconds before the next attempt may start (0 when failed)

    @property
    def retry(self) -> bool:
        return self.status is JobStatus.PENDING


def decide_failure(failures: int, max_attempts: int, cause: FailureCause) -> FailureDecision:
    """The one rule for every failed attempt, whatever ended it.

    ``failures`` is the count before this attempt. The attempt counts as a failure; it is
    retried with exponential backoff unless the cause is permanent or the attempts are spent.
    """
    failures += 1
    if cause is FailureCause.PERMANENT or failures >= max_attempts:
        return FailureDecision(JobStatus.FAILED, failures, 0.0)
    return FailureDecision(JobStatus.PENDING, failures, retry_delay_s(failures))


def failure_log_line(attempt: int, decision: FailureDecision, max_attempts: int) -> str:
    """The line a failed attempt leaves in the job's log after its cause."""
    if decision.retry:
        return (
            f"[attempt {attempt}] retry {decision.failures}/{max_attempts - 1}"
            f" in {decision.delay_s:.0f} s\n"
        )
    return f"[attempt {attempt}] giving up\n"


class PipelineNext(StrEnum):
    """What a pipeline does after one of its steps settled."""

    CANCEL_REST = "cancel_rest"  # a step failed for good or was cancelled
    RELEASE_READY = "release_ready"  # release held steps whose dependencies completed


def decide_pipeline(step_statuses: Iterable[str]) -> tuple[PipelineNext, str | None]:
    """The next move of a pipeline and, when it ends broken, its final status."""
    broken = {str(s) for s in step_statuses} & {JobStatus.FAILED, JobStatus.CANCELLED}
    if JobStatus.FAILED in broken:
        return PipelineNext.CANCEL_REST, "failed"
    if broken:
        return PipelineNext.CANCEL_REST, "cancelled"
    return PipelineNext.RELEASE_READY, None


# ---- the value model -------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    """A job as the lifecycle sees it.

    ``attempt`` is the fencing token (the number of claims so far); ``running_attempt`` the
    attempt that may write now; ``reservation`` the slot or GPU the job holds.
    """

    status: JobStatus = JobStatus.PENDING
    attempt: int = 0
    failures: int = 0
    max_attempts: int = 3
    running_attempt: int | None = None
    reservation: str | None = None


@dataclass(frozen=True)
class Occurrence:
    """One event as it reaches a job: its kind plus what the event carries.

    ``attempt``: the fencing token the sender holds (the admission's attempt for CLAIM, the
    claim's attempt for COMPLETE/FAIL/REFUSE); ``slot``: what ADMIT reserves.
    """

    event: Event
    attempt: int | None = None
    cause: FailureCause = FailureCause.ERROR
    slot: str = "cpu"


def apply(state: JobState, occ: Occurrence) -> JobState | None:
    """The state after ``occ``, or None when the job ignores it (wrong status, stale token)."""
    rule = EVENTS[occ.event]
    if state.status not in rule.sources:
        return None
    fenced = occ.event in (Event.COMPLETE, Event.FAIL, Event.REFUSE)
    if fenced and occ.attempt != state.running_attempt:
        return None
    if occ.event is Event.CLAIM and occ.attempt != state.attempt:
        return None
    match occ.event:
        case Event.ADMIT:
            return replace(state, status=JobStatus.QUEUED, reservation=occ.slot)
        case Event.WITHDRAW:
            return replace(state, status=JobStatus.PENDING, reservation=None)
        case Event.CLAIM:
            attempt = state.attempt + 1
            return replace(
                state, status=JobStatus.RUNNING, attempt=attempt, running_attempt=attempt
            )
        case Event.COMPLETE:
            return replace(
                state, status=JobStatus.COMPLETED, running_attempt=None, reservation=None
            )
        case Event.FAIL:
            decision = decide_failure(state.failures, state.max_attempts, occ.cause)
            return replace(
                state,
                status=decision.status,
                failures=decision.failures,
                running_attempt=None,
                reservation=None,
            )
        case Event.REFUSE:
            return replace(state, status=JobStatus.PENDING, running_attempt=None, reservation=None)
        case Event.CANCEL:
            return replace(
                state, status=JobStatus.CANCELLED, running_attempt=None, reservation=None
            )
        case Event.RETRY:
            return replace(state, status=JobStatus.PENDING, failures=0)
    raise AssertionError(occ.event)  # pragma: no cover
