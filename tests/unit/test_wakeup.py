"""When the scheduler's next pass starts after notifications (scheduler.wakeup)."""

from __future__ import annotations

from scheduler.wakeup import FAST_PASS_GAP_S, FREED, FREED_PASS_GAP_S, next_pass_at


def test_nothing_notified_waits_for_the_tick() -> None:
    assert next_pass_at(10.0, urgent=False, freed=0, lookahead=8) is None


def test_new_work_gets_a_pass_at_once() -> None:
    assert next_pass_at(10.0, urgent=True, freed=0, lookahead=8) == 10.0 + FAST_PASS_GAP_S
    assert next_pass_at(10.0, urgent=True, freed=3, lookahead=8) == 10.0 + FAST_PASS_GAP_S


def test_finishes_are_folded_until_half_the_lookahead() -> None:
    assert FAST_PASS_GAP_S < FREED_PASS_GAP_S
    for freed in (1, 2, 3):
        assert next_pass_at(10.0, False, freed, lookahead=8) == 10.0 + FREED_PASS_GAP_S
    assert next_pass_at(10.0, False, 4, lookahead=8) == 10.0 + FAST_PASS_GAP_S


def test_without_lookahead_every_finish_is_urgent() -> None:
    # nothing waits in the broker: a freed slot stays idle until the next pass
    assert next_pass_at(10.0, False, 1, lookahead=0) == 10.0 + FAST_PASS_GAP_S
    assert next_pass_at(10.0, False, 1, lookahead=1) == 10.0 + FAST_PASS_GAP_S


def test_only_finishes_count_as_freed() -> None:
    assert {"completed", "failed", "cancelled"} == FREED
    assert {"new", "pending", "pause", ""}.isdisjoint(FREED)


def test_a_job_waiting_to_overtake_makes_every_finish_urgent() -> None:
    # a pending job more urgent than one in the broker must be published before a worker
    # takes that one
    assert next_pass_at(10.0, False, 1, 8, overtake_waiting=True) == 10.0 + FAST_PASS_GAP_S
    assert next_pass_at(10.0, False, 0, 8, overtake_waiting=True) is None
