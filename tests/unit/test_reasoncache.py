"""The scheduler writes only the waiting reasons that changed, and re-checks all of them
periodically."""

from __future__ import annotations

from scheduler.model import Waiting
from scheduler.reasoncache import ReasonCache


def w(job_id: int, position: int, code: str = "PRIORITY") -> Waiting:
    return Waiting(job_id, position, code, f"{code}: {position - 1} ahead")


def test_only_changed_reasons_are_written_again() -> None:
    cache = ReasonCache(max_age_s=30)
    first = [w(1, 1), w(2, 2), w(3, 3)]
    assert cache.changed(first, now=0) == first
    cache.remember(first)
    assert cache.changed(first, now=1) == []
    moved = [w(2, 1), w(3, 2)]  # job 1 was admitted
    cache.keep_only(x.job_id for x in moved)
    assert cache.changed(moved, now=2) == moved
    cache.remember(moved)
    assert cache.changed([w(2, 1), w(3, 2, "RESOURCES_VRAM")], now=3) == [w(3, 2, "RESOURCES_VRAM")]


def test_everything_is_compared_again_once_the_memory_is_old_or_forgotten() -> None:
    cache = ReasonCache(max_age_s=30)
    reasons = [w(1, 1), w(2, 2)]
    cache.changed(reasons, now=0)
    cache.remember(reasons)
    assert cache.changed(reasons, now=10) == []
    assert cache.changed(reasons, now=31) == reasons
    cache.remember(reasons)
    cache.forget()
    assert cache.changed(reasons, now=32) == reasons


def test_a_job_that_left_and_came_back_is_written() -> None:
    cache = ReasonCache()
    cache.changed([w(1, 1)], now=0)
    cache.remember([w(1, 1)])
    cache.keep_only([])
    assert cache.changed([w(1, 1)], now=1) == [w(1, 1)]


def test_a_moved_position_alone_is_written_only_when_positions_are_due() -> None:
    cache = ReasonCache(max_age_s=300, position_every_s=5)
    same = [
        Waiting(1, 3, "PRIORITY", "PRIORITY: waits"),
        Waiting(2, 4, "PRIORITY", "PRIORITY: waits"),
    ]
    assert cache.changed(same, now=0) == same
    cache.remember(same)
    moved = [Waiting(1, 2, "PRIORITY", "PRIORITY: waits"), Waiting(2, 3, "SLOTS_BUSY", "next")]
    assert cache.changed(moved, now=1) == [moved[1]]  # a new reason goes at once
    cache.remember([moved[1]])
    assert cache.changed(moved, now=6) == [moved[0]]  # the position once positions are due
