"""The statements of ``mediaq.transitions`` against the real database.

Every transition function, tried from every status, moves a job exactly as the pure model
``mediaq.jobstates.apply`` says (and leaves it alone where the model ignores the event);
the three ways an attempt is lost give the same backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from mediaq import transitions
from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.jobstates import (
    LIVE,
    Event,
    FailureCause,
    JobState,
    JobStatus,
    Occurrence,
    apply,
)
from mediaq.settings import Settings
from scheduler.rescue import rescue
from tests.integration.fleet import query

GPU = "GPU-x"  # registered nowhere: to the rescue it is a lost GPU


@dataclass(frozen=True)
class Place:
    job_id: int
    gpu_uuid: str | None = None
    host: str | None = None


def make_job(settings: Settings, status: JobStatus, attempt: int = 1) -> int:
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec("noop"))
    live = status in LIVE
    with engine_for(settings.database_url).begin() as conn:
        conn.exec_driver_sql(
            "UPDATE jobs SET status = %s, attempt = %s, assigned_gpu = %s, assigned_host = %s,"
            " heartbeat_at = now(), queued_at = now() WHERE id = %s",
            (status.value, attempt, GPU if live else None, "h" if live else None, job_id),
        )
    return job_id


Act = Callable[[Connection, int], object]
CAP = 10_000

ACTS: dict[Event, Act] = {
    Event.ADMIT: lambda c, j: transitions.admit(c, [Place(j)]),
    Event.WITHDRAW: lambda c, j: transitions.withdraw_from_lost_gpus(c, 20.0, CAP),
    Event.CLAIM: lambda c, j: transitions.claim(c, j, 1, "h", GPU),
    Event.COMPLETE: lambda c, j: transitions.complete(c, j, 1, None, CAP),
    Event.FAIL: lambda c, j: transitions.fail_attempts(
        c, [transitions.FailedAttempt(j, 1, 0, 3, FailureCause.ERROR, "boom")], CAP
    ),
    Event.REFUSE: lambda c, j: transitions.refuse(c, j, 1, "PREFLIGHT_FAILED", "no room", CAP),
    Event.CANCEL: lambda c, j: transitions.cancel(c, j),
    Event.RETRY: lambda c, j: transitions.retry(c, j),
}


def test_every_transition_does_in_the_database_what_the_model_says(settings: Settings) -> None:
    engine = engine_for(settings.database_url)
    for event, act in ACTS.items():
        for status in JobStatus:
            job_id = make_job(settings, status)
            with engine.begin() as conn:
                act(conn, job_id)
            row = query(
                settings,
                "SELECT status, attempt, assigned_gpu FROM jobs WHERE id = :i",
                i=job_id,
            )[0]
            live = status in LIVE
            model = JobState(
                status=status,
                attempt=1,
                running_attempt=1 if status is JobStatus.RUNNING else None,
                reservation=GPU if live else None,
            )
            token = 1
            expected = apply(model, Occurrence(event, attempt=token, slot=GPU)) or model
            where = f"{event} from {status}"
            assert row.status == expected.status, where
            assert row.attempt == expected.attempt, where
            if expected.status in (JobStatus.PENDING, JobStatus.FAILED):
                assert row.assigned_gpu is None, where  # the reservation went with it


def test_a_failed_handler_a_lost_heartbeat_and_a_lost_gpu_back_off_alike(
    settings: Settings,
) -> None:
    engine = engine_for(settings.database_url)
    jobs = [make_job(settings, JobStatus.RUNNING, attempt=2) for _ in range(3)]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE jobs SET failures = 1, max_attempts = 5, assigned_gpu = NULL"
            " WHERE id = ANY(%s)",
            (jobs,),
        )
        conn.exec_driver_sql(
            "UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", (jobs[1],)
        )
        conn.exec_driver_sql("UPDATE jobs SET assigned_gpu = 'GPU-y' WHERE id = %s", (jobs[2],))
    handler, silent, on_gpu = jobs
    # the worker's path: a handler raised
    with engine.begin() as conn:
        claim = transitions.Claim(handler, 2, "noop", {}, "cpu", 0, "h", None, 1, 5, None)
        assert transitions.fail(conn, claim, "boom", False, CAP) is not None
    # the scheduler's path: the rescue sweep finds a silent attempt
    with engine.begin() as conn:
        report = rescue(conn, settings)
    assert report.retried == [silent]
    # the host daemon's path: the GPU is lost
    with engine.begin() as conn:
        assert transitions.release_gpu(conn, "h", "GPU-y", CAP) == [on_gpu]
    rows = query(
        settings,
        "SELECT id, status, failures, EXTRACT(EPOCH FROM not_before - updated_at) AS backoff,"
        " assigned_gpu, assigned_host, last_error FROM jobs WHERE id = ANY(:ids) ORDER BY id",
        ids=jobs,
    )
    assert [(r.status, r.failures, float(r.backoff)) for r in rows] == [("pending", 2, 4.0)] * 3
    assert all(r.assigned_gpu is None and r.assigned_host is None for r in rows)
    assert [r.last_error for r in rows] == ["boom", "heartbeat lost", "GPU lost"]


def test_a_look_ahead_admits_later_higher_jobs_past_lower_ones_already_in_the_broker(
    settings: Settings,
) -> None:
    engine = engine_for(settings.database_url)
    with transaction(settings.database_url) as session:
        running = enqueue(session, JobSpec("noop", priority=5))
        lows = [enqueue(session, JobSpec("noop", priority=1)) for _ in range(4)]
    slots, lookahead = 1, 2
    room = slots + lookahead
    with engine.begin() as conn:
        transitions.admit(conn, [Place(running)])
        assert transitions.claim(conn, running, 0, "h", None) is not None
        admitted = transitions.admit_cpu_head(conn, room, lookahead)
    assert [a.job_id for a in admitted] == lows[:2]  # the room is full now
    with transaction(settings.database_url) as session:
        mid = enqueue(session, JobSpec("noop", priority=5))
        highs = [enqueue(session, JobSpec("noop", priority=9)) for _ in range(3)]
    with engine.begin() as conn:
        overtaking = transitions.admit_cpu_head(conn, room, lookahead)
        again = transitions.admit_cpu_head(conn, room, lookahead)
    # beyond the room, by at most the look-ahead, in exact order: the highs first
    assert [a.job_id for a in overtaking] == highs[:2]
    assert again == []
    assert all(a.priority == 9 for a in overtaking)
    pending = query(settings, "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id")
    assert [r.id for r in pending] == [*lows[2:], mid, highs[2]]


def test_the_cpu_head_says_when_a_job_left_pending_should_overtake_the_broker(
    settings: Settings,
) -> None:
    engine = engine_for(settings.database_url)
    with transaction(settings.database_url) as session:
        lows = [enqueue(session, JobSpec("noop", priority=1)) for _ in range(3)]
    room, lookahead = 2, 1
    with engine.begin() as conn:
        head = transitions.admit_cpu_head_checked(conn, room, lookahead)
    # the broker is full of lows; the low left pending is no more urgent than they are
    assert [a.job_id for a in head.admitted] == lows[:2]
    assert not head.overtake_waiting
    with transaction(settings.database_url) as session:
        highs = [enqueue(session, JobSpec("noop", priority=9)) for _ in range(3)]
    with engine.begin() as conn:
        head = transitions.admit_cpu_head_checked(conn, room, lookahead)
    # two highs overtake (the lows below them in the broker do not count against the room);
    # the third must do so as soon as a slot frees
    assert [a.job_id for a in head.admitted] == highs[:2]
    assert head.overtake_waiting
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET held = true WHERE id = :i"), {"i": highs[2]})
        head = transitions.admit_cpu_head_checked(conn, room, lookahead)
    assert head.admitted == [] and not head.overtake_waiting


def test_every_wave_of_more_urgent_jobs_overtakes_the_lower_ones_waiting_in_the_broker(
    settings: Settings,
) -> None:
    """One busy slot, look-ahead 8: lows fill the broker, then mids, then highs arrive. Each
    wave is admitted whole, however many lower messages already wait, so a worker never pops
    a mid while a high it has seen is still pending (it would wait for a scheduler pass)."""
    engine = engine_for(settings.database_url)
    slots, lookahead = 1, 8
    room = slots + lookahead
    with transaction(settings.database_url) as session:
        running = enqueue(session, JobSpec("noop", priority=5))
    with engine.begin() as conn:
        transitions.admit(conn, [Place(running)])
        assert transitions.claim(conn, running, 0, "h", None) is not None
    waves = []
    for priority in (1, 5, 9):
        with transaction(settings.database_url) as session:
            wave = [enqueue(session, JobSpec("noop", priority=priority)) for _ in range(8)]
        with engine.begin() as conn:
            head = transitions.admit_cpu_head_checked(conn, room, lookahead)
        assert [a.job_id for a in head.admitted] == wave
        assert not head.overtake_waiting
        waves.append(wave)
    # at or above each broker level, never more than the room waits
    with engine.begin() as conn:
        assert transitions.admit_cpu_head(conn, room, lookahead) == []
    assert query(settings, "SELECT count(*) AS n FROM jobs WHERE status = 'pending'")[0].n == 0
    # and without a look-ahead, strictly what the room holds: nothing beyond it
    with transaction(settings.database_url) as session:
        top = enqueue(session, JobSpec("noop", priority=10))
    with engine.begin() as conn:
        assert transitions.admit_cpu_head(conn, room, 0) == []
        assert [a.job_id for a in transitions.admit_cpu_head(conn, room, lookahead)] == [top]
