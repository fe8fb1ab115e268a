"""The pure lifecycle: the declared table, the failure decision and the value model.

The property test drives the value model through arbitrary event sequences (stale fencing
tokens included) and checks the invariants every job keeps.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaq.jobstates import (
    EVENTS,
    LIVE,
    TERMINAL,
    TRANSITIONS,
    Event,
    FailureCause,
    JobState,
    JobStatus,
    Occurrence,
    PipelineNext,
    apply,
    decide_failure,
    decide_pipeline,
)

FENCED = (Event.COMPLETE, Event.FAIL, Event.REFUSE)

steps = st.lists(
    st.tuples(
        st.sampled_from(list(Event)),
        st.one_of(st.none(), st.integers(min_value=0, max_value=6)),  # None: the right token
        st.sampled_from(list(FailureCause)),
    ),
    max_size=60,
)


def _occurrence(
    state: JobState, event: Event, token: int | None, cause: FailureCause
) -> Occurrence:
    if token is None:
        token = state.attempt if event is Event.CLAIM else state.running_attempt
    return Occurrence(event, attempt=token, cause=cause, slot="GPU-a")


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=5), steps)
def test_every_event_sequence_keeps_the_invariants(
    max_attempts: int, seq: list[tuple[Event, int | None, FailureCause]]
) -> None:
    state = JobState(max_attempts=max_attempts)
    for event, token, cause in seq:
        occ = _occurrence(state, event, token, cause)
        after = apply(state, occ)
        if after is None:
            # ignored: the status does not allow it, or the sender's token is stale
            stale = (event is Event.CLAIM and occ.attempt != state.attempt) or (
                event in FENCED and occ.attempt != state.running_attempt
            )
            assert state.status not in EVENTS[event].sources or stale
            continue
        # only declared transitions happen
        assert after.status in EVENTS[event].targets
        assert after.status == state.status or after.status in TRANSITIONS[state.status]
        # terminal states are final except through retry
        if state.status in TERMINAL:
            assert event is Event.RETRY and after.status is JobStatus.PENDING
        # one running attempt at most: exactly the latest claim, exactly while running
        assert (after.running_attempt is not None) == (after.status is JobStatus.RUNNING)
        if after.running_attempt is not None:
            assert after.running_attempt == after.attempt
        # a reservation is held exactly while queued or running
        assert (after.reservation is not None) == (after.status in LIVE)
        # the fencing token only grows, and only a claim grows it
        assert after.attempt == state.attempt + (1 if event is Event.CLAIM else 0)
        # failures never pass the budget; a job fails for good only when it is spent or the
        # error was permanent
        assert after.failures <= max_attempts
        if after.status is JobStatus.FAILED:
            assert after.failures == max_attempts or occ.cause is FailureCause.PERMANENT
        state = after


def test_the_table_is_derived_from_the_events() -> None:
    assert {
        JobStatus.PENDING: {JobStatus.QUEUED, JobStatus.CANCELLED},
        JobStatus.QUEUED: {JobStatus.RUNNING, JobStatus.PENDING, JobStatus.CANCELLED},
        JobStatus.RUNNING: {
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.PENDING,
        },
        JobStatus.COMPLETED: set(),
        JobStatus.FAILED: {JobStatus.PENDING},
        JobStatus.CANCELLED: {JobStatus.PENDING},
    } == TRANSITIONS


def test_every_way_an_attempt_is_lost_decides_the_same() -> None:
    for max_attempts in range(1, 8):
        for failures in range(max_attempts):
            decisions = {
                decide_failure(failures, max_attempts, cause)
                for cause in (
                    FailureCause.ERROR,
                    FailureCause.HEARTBEAT_LOST,
                    FailureCause.GPU_LOST,
                )
            }
            assert len(decisions) == 1
            (decision,) = decisions
            assert decision.failures == failures + 1
            assert decision.retry == (failures + 1 < max_attempts)
            assert decision.delay_s == (2.0 * 2**failures if decision.retry else 0.0)
            permanent = decide_failure(failures, max_attempts, FailureCause.PERMANENT)
            assert not permanent.retry and permanent.failures == failures + 1


def test_a_pipeline_after_a_step_settled() -> None:
    assert decide_pipeline(["completed", "pending", "running"]) == (
        PipelineNext.RELEASE_READY,
        None,
    )
    assert decide_pipeline(["completed", "cancelled", "pending"]) == (
        PipelineNext.CANCEL_REST,
        "cancelled",
    )
    assert decide_pipeline(["cancelled", "failed", "pending"]) == (
        PipelineNext.CANCEL_REST,
        "failed",
    )
