"""Slot admission for the CPU class: strict head-of-queue order, and a reason for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.model import PendingJob
from scheduler.ordering import plan_slots

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def job(i: int, priority: int = 5, **kw: object) -> PendingJob:
    return PendingJob(i, "cpu", priority, NOW - timedelta(seconds=100 - i), **kw)  # type: ignore[arg-type]


def test_admits_from_the_head_only_as_many_as_free_slots() -> None:
    plan = plan_slots([job(1), job(2), job(3)], slots=2, busy=1, now=NOW)
    assert [p.job_id for p in plan.admitted] == [1]
    assert [(w.job_id, w.code, w.position) for w in plan.waiting] == [
        (2, "SLOTS_BUSY", 2),
        (3, "PRIORITY", 3),
    ]


def test_lookahead_admits_beyond_free_slots() -> None:
    plan = plan_slots([job(1), job(2), job(3)], slots=1, busy=1, now=NOW, lookahead=2)
    assert [p.job_id for p in plan.admitted] == [1, 2]


def test_no_workers_is_the_reason_when_no_slot_exists() -> None:
    plan = plan_slots([job(1)], slots=0, busy=0, now=NOW)
    assert plan.admitted == ()
    assert plan.waiting[0].code == "NO_WORKERS"


def test_held_and_backoff_jobs_are_skipped_with_their_reason() -> None:
    later = NOW + timedelta(seconds=30)
    plan = plan_slots(
        [
            job(1, held=True, held_reason="DEPENDENCY: waits for job #7"),
            job(2, not_before=later),
            job(3),
        ],
        slots=1,
        busy=0,
        now=NOW,
    )
    assert [p.job_id for p in plan.admitted] == [3]
    codes = {w.job_id: w.code for w in plan.waiting}
    assert codes == {1: "DEPENDENCY", 2: "RETRY_BACKOFF"}
    assert "30 s" in next(w.reason for w in plan.waiting if w.job_id == 2)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 40),
    slots=st.integers(0, 8),
    busy=st.integers(0, 8),
    lookahead=st.integers(0, 4),
    held=st.sets(st.integers(1, 40)),
)
def test_admission_is_a_prefix_of_the_eligible_jobs(
    n: int, slots: int, busy: int, lookahead: int, held: set[int]
) -> None:
    pending = [job(i, held=i in held) for i in range(1, n + 1)]
    plan = plan_slots(pending, slots, busy, NOW, lookahead)
    eligible = [j.id for j in pending if not j.held]
    admitted = [p.job_id for p in plan.admitted]
    expected = max(0, min(len(eligible), slots + lookahead - busy)) if slots > 0 else 0
    assert admitted == eligible[:expected]
    # every job is either admitted or waiting with a reason, exactly once
    waiting = [w.job_id for w in plan.waiting]
    assert sorted(admitted + waiting) == [j.id for j in pending]
    assert all(w.reason.startswith(w.code) for w in plan.waiting)
