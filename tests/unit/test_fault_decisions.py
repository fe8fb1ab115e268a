"""The pure decisions behind riding out faults: when a Celery worker ends itself, when an
attempt fences itself, which dependency an error speaks of."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import exc as sa_exc

from api_shim.dbretry import retry_safe
from api_shim.errors import outage_dependency
from mediaq.hostpaths import daemon_alive_file
from mediaq.lifeline import file_age_s, remove_stale_alive_files, touch, verdict
from scheduler.service import OUTAGES, outage_of
from tasks.context import KILL_GRACE_S
from tasks.monitor import (
    CANCEL_HARD_STOP_S,
    HARD_EXIT_GRACE_S,
    fence_due,
    overdue,
    self_fence_after_s,
)


def test_a_worker_lives_exactly_while_its_daemon_is_its_parent_and_fresh() -> None:
    assert verdict(100, 100, 0.2, 3.0) is None
    assert verdict(100, 100, 3.0, 3.0) is None
    assert "gone" in (verdict(1, 100, 0.2, 3.0) or "")
    assert "no alive file" in (verdict(100, 100, None, 3.0) or "")
    assert "frozen" in (verdict(100, 100, 3.5, 3.0) or "")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2**22),
    st.integers(1, 2**22),
    st.one_of(st.none(), st.floats(0, 1e6)),
    st.floats(0.1, 1e4),
)
def test_lifeline_verdict_is_none_only_for_a_live_fresh_parent(
    parent: int, daemon: int, age: float | None, frozen_after: float
) -> None:
    alive = parent == daemon and age is not None and age <= frozen_after
    assert (verdict(parent, daemon, age, frozen_after) is None) == alive


@settings(max_examples=300, deadline=None)
@given(st.floats(0.5, 3600), st.floats(0.01, 5), st.floats(0, 1e5), st.floats(0, 1e5))
def test_a_zombie_is_fenced_before_the_rescue_may_act(
    timeout: float, poll: float, last_ok: float, later: float
) -> None:
    """The rescue acts no sooner than ``timeout`` after the last heartbeat reached the
    database, which is no sooner than it was sent. A fence checked every ``poll`` seconds
    fires by ``fence_after + poll`` after the send: before the rescue whenever the timeout
    leaves room for two polls."""
    fence_after = self_fence_after_s(timeout, poll)
    assert fence_after >= poll
    if timeout >= 3 * poll:
        assert fence_after + poll <= timeout - poll + 1e-9
    now = last_ok + later
    assert fence_due(now, last_ok, fence_after) == (now - last_ok > fence_after)


def test_a_stopped_attempt_is_ended_with_its_process_once_its_grace_is_over() -> None:
    assert not overdue(100.0, None, CANCEL_HARD_STOP_S)  # never stopped: never overdue
    assert not overdue(100.0, 100.0 - CANCEL_HARD_STOP_S, CANCEL_HARD_STOP_S)
    assert overdue(100.0, 100.0 - CANCEL_HARD_STOP_S - 0.01, CANCEL_HARD_STOP_S)
    # a cancel's process groups get SIGTERM, then SIGKILL after the grace, before the
    # hard stop; with a cancel noticed within the default 1 s poll, the slot frees in 5 s
    assert KILL_GRACE_S < CANCEL_HARD_STOP_S <= 5.0 - 1.0 - 0.5
    assert CANCEL_HARD_STOP_S <= HARD_EXIT_GRACE_S


def test_work_is_sent_again_only_when_its_connection_was_dead_and_nothing_committed() -> None:
    assert retry_safe(connection_was_dead=True, commit_sent=False)
    assert not retry_safe(connection_was_dead=True, commit_sent=True)  # it may have written
    assert not retry_safe(connection_was_dead=False, commit_sent=False)  # the database is away


def test_outages_are_named_by_the_dependency_that_is_down() -> None:
    pg = psycopg.OperationalError("consuming input failed")
    wrapped = sa_exc.OperationalError("SELECT 1", {}, pg)
    assert outage_dependency(pg) == "database"
    assert outage_dependency(wrapped) == "database"
    assert outage_dependency(sa_exc.TimeoutError("pool")) == "database"
    assert outage_dependency(RedisConnectionError("refused")) == "redis"
    assert outage_dependency(sa_exc.IntegrityError("INSERT", {}, Exception("dup"))) is None
    assert outage_dependency(ValueError("bug")) is None
    for exc in (pg, wrapped, BrokerError("down"), RedisConnectionError("down")):
        assert isinstance(exc, OUTAGES)
    assert outage_of(pg) == "database" and outage_of(BrokerError("x")) == "broker"


def test_the_alive_file_ages_on_the_monotonic_clock(tmp_path: Path) -> None:
    alive = tmp_path / "daemon.alive"
    assert file_age_s(alive) is None  # no file: the daemon is gone
    touch(alive)
    age = file_age_s(alive)
    assert age is not None and 0 <= age < 1
    os.utime(alive, (0, 0))  # a wall-clock step (or a skewed clock) changes nothing
    age = file_age_s(alive)
    assert age is not None and age < 1
    alive.write_text("garbage")
    assert file_age_s(alive) is None


def test_a_daemon_removes_the_alive_files_its_killed_predecessors_left() -> None:
    host = f"stale-test-{os.getpid()}"
    dead = daemon_alive_file(host, 2**22 + 7)  # above pid_max: never a live process
    mine = daemon_alive_file(host, os.getpid())
    touch(dead)
    touch(mine)
    try:
        assert remove_stale_alive_files(host) == [dead]
        assert not dead.exists() and mine.exists()
    finally:
        dead.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)
