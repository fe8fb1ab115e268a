"""When the scheduler refreshes the planner's statistics of the jobs table (pure rule)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scheduler.jobstats import FACTOR, MIN_ROWS, statistics_stale


def test_a_backlog_the_planner_does_not_know_of_is_stale() -> None:
    assert statistics_stale(estimated=8, seen=500, seen_all=False)  # a burst into a quiet table
    assert statistics_stale(estimated=1, seen=MIN_ROWS, seen_all=True)


def test_an_estimate_in_the_right_order_of_magnitude_is_left_alone() -> None:
    assert not statistics_stale(estimated=60, seen=500, seen_all=False)  # 500 is a lower bound
    assert not statistics_stale(estimated=3000, seen=500, seen_all=False)
    assert not statistics_stale(estimated=900, seen=400, seen_all=True)


def test_small_queues_never_pay_for_an_analyze() -> None:
    assert not statistics_stale(estimated=0, seen=MIN_ROWS - 1, seen_all=True)
    assert not statistics_stale(estimated=FACTOR * MIN_ROWS, seen=0, seen_all=True)


def test_a_drained_backlog_the_planner_still_believes_in_is_stale_only_when_all_was_seen() -> None:
    assert statistics_stale(estimated=50_000, seen=3, seen_all=True)
    # a full read window says nothing of how many more there are
    assert not statistics_stale(estimated=50_000, seen=500, seen_all=False)


@given(
    estimated=st.floats(min_value=0, max_value=1e7),
    seen=st.integers(min_value=0, max_value=10**6),
    seen_all=st.booleans(),
)
def test_stale_only_when_an_order_of_magnitude_apart(
    estimated: float, seen: int, seen_all: bool
) -> None:
    if statistics_stale(estimated, seen, seen_all):
        too_low = seen >= MIN_ROWS and estimated * FACTOR < seen
        too_high = seen_all and estimated > FACTOR * max(seen, MIN_ROWS)
        assert too_low or too_high
    else:
        assert seen < MIN_ROWS or estimated * FACTOR >= seen
