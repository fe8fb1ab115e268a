"""The slot arithmetic of schedules (pure): which slots run now, exactly and boundedly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaq.errors import ValidationError
from mediaq.schedules import GRACE_S, Rule, parse_spec, slots_to_run

T0 = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


def test_every_seconds_slots_are_epoch_multiples() -> None:
    rule = Rule(every_seconds=10)
    now = T0 + timedelta(seconds=37)
    assert slots_to_run(rule, T0 + timedelta(seconds=20), T0, now) == [T0 + timedelta(seconds=30)]
    assert slots_to_run(rule, T0 + timedelta(seconds=30), T0, now) == []


def test_a_new_schedule_never_fires_a_slot_before_it_existed() -> None:
    rule = Rule(every_seconds=60)
    created = T0 + timedelta(seconds=1)
    assert slots_to_run(rule, None, created, created + timedelta(seconds=30)) == []
    assert slots_to_run(rule, None, created, T0 + timedelta(seconds=60)) == [
        T0 + timedelta(seconds=60)
    ]


def test_long_downtime_runs_only_the_latest_missed_slot_once() -> None:
    rule = Rule(cron="0 3 * * *")
    last = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    assert slots_to_run(rule, last, last, now) == [datetime(2026, 3, 20, 3, 0, tzinfo=UTC)]


def test_a_slow_tick_still_runs_every_slot_it_missed() -> None:
    rule = Rule(every_seconds=1)
    now = T0 + timedelta(seconds=3, milliseconds=500)
    assert slots_to_run(rule, T0, T0, now) == [T0 + timedelta(seconds=s) for s in (1, 2, 3)]


def test_cron_follows_its_time_zone_across_daylight_saving() -> None:
    rule = Rule(cron="30 2 * * *", timezone="Europe/Berlin")
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2; 02:30 local does not exist that night
    before = rule.latest_at_or_before(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert before == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    after = rule.after(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    assert after == datetime(2026, 3, 31, 0, 30, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    every=st.integers(1, 7200),
    last_offset=st.integers(-100_000, 100_000),
    now_offset=st.integers(0, 400_000),
)
def test_slots_are_new_due_ordered_and_bounded(
    every: int, last_offset: int, now_offset: int
) -> None:
    rule = Rule(every_seconds=every)
    last = T0 + timedelta(seconds=last_offset)
    now = T0 + timedelta(seconds=now_offset)
    slots = slots_to_run(rule, last, T0 - timedelta(days=30), now)
    assert slots == sorted(set(slots))
    assert all(last < s <= now and s.timestamp() % every == 0 for s in slots)
    assert len(slots) <= GRACE_S / every + 1
    latest = rule.latest_at_or_before(now)
    assert (latest in slots) == (latest > last)
    # running again at the same moment after recording the slots adds nothing
    if slots:
        assert slots_to_run(rule, slots[-1], T0, now) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "x", "cron": "* * * *", "job": {"type": "noop"}}, "5-field cron"),
        ({"name": "x", "cron": "0 0 * * * *", "job": {"type": "noop"}}, "5-field cron"),
        ({"name": "x", "cron": "61 * * * *", "job": {"type": "noop"}}, "5-field cron"),
        ({"name": "x", "everySeconds": 0, "job": {"type": "noop"}}, "everySeconds"),
        ({"name": "x", "job": {"type": "noop"}}, "exactly one of cron or everySeconds"),
        ({"name": "x", "everySeconds": 5, "cron": "* * * * *", "job": {}}, "exactly one"),
        ({"name": "x", "everySeconds": 5, "timezone": "Mars/Base", "job": {}}, "timezone"),
        ({"name": "", "everySeconds": 5, "job": {"type": "noop"}}, "name"),
        ({"name": "x", "everySeconds": 5, "job": {"type": "nope"}}, "nope"),
        ({"name": "x", "everySeconds": 5, "job": {"type": "noop", "prio": 1}}, "prio"),
        ({"name": "x", "everySeconds": 5}, "job must be an object"),
    ],
)
def test_bad_schedules_are_refused_with_the_field_named(
    body: dict[str, object], needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle):
        parse_spec(body)
