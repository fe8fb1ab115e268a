"""Workers dying, schedulers dying, cancels and stale writes: nothing stuck, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from mediaq import jobstore, transitions
from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.jobcontrol import cancel_job
from mediaq.settings import Settings, settings_to_env
from scheduler.service import LEADER_LOCK, Scheduler
from tests.integration.fleet import (
    SchedulerThread,
    WorkerProcess,
    query,
    scalar,
    status_counts,
    wait_until,
)


def job_status(settings: Settings, job_id: int) -> str:
    return str(scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id))


def test_worker_killed_mid_job_is_retried_elsewhere_or_failed_never_stuck(
    settings: Settings, tmp_path: Path
) -> None:
    sched = SchedulerThread(settings).start()
    host_a = WorkerProcess(replace(settings, host_name="host-a"), tmp_path / "a.log")
    host_b = None
    try:
        with transaction(settings.database_url) as session:
            retried = enqueue(session, JobSpec("noop", {"seconds": 3}))
            last_try = enqueue(session, JobSpec("noop", {"seconds": 3}, max_attempts=1))
        wait_until(
            lambda: job_status(settings, retried) == job_status(settings, last_try) == "running",
            30,
            what="both running on host-a",
        )
        time.sleep(0.5)
        host_a.kill_hard()
        killed_at = time.monotonic()
        host_b = WorkerProcess(replace(settings, host_name="host-b"), tmp_path / "b.log")
        wait_until(
            lambda: (
                job_status(settings, retried) != "running"
                and job_status(settings, last_try) != "running"
            ),
            settings.heartbeat_timeout_s + settings.scheduler_tick_s + 5,
            what="rescue of both jobs",
        )
        rescued_after = time.monotonic() - killed_at
        wait_until(lambda: job_status(settings, retried) == "completed", 60, what="retry done")
    finally:
        sched.close()
        host_a.close()
        if host_b is not None:
            host_b.close()
    # a lost heartbeat is noticed within the timeout plus a tick (and some scheduling slack)
    assert rescued_after <= settings.heartbeat_timeout_s + settings.scheduler_tick_s + 2.0
    done = query(settings, "SELECT attempt, assigned_host FROM jobs WHERE id = :i", i=retried)[0]
    assert (done.attempt, done.assigned_host) == (2, "host-b")
    failed = query(settings, "SELECT status, log FROM jobs WHERE id = :i", i=last_try)[0]
    assert failed.status == "failed"
    assert "heartbeat lost on host host-a" in failed.log


def _admission_audit(settings: Settings) -> None:
    """A trigger (in this test's database only) recording every pending -> queued step."""
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            text(
                """
                CREATE TABLE admission_audit (job_id int, at timestamptz DEFAULT clock_timestamp());
                CREATE FUNCTION audit_admission() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO admission_audit (job_id) VALUES (NEW.id); RETURN NULL; END $$;
                CREATE TRIGGER audit AFTER UPDATE OF status ON jobs FOR EACH ROW
                WHEN (OLD.status = 'pending' AND NEW.status = 'queued')
                EXECUTE FUNCTION audit_admission();
                """
            )
        )


def test_two_schedulers_passing_at_once_never_admit_a_job_twice(settings: Settings) -> None:
    _admission_audit(settings)
    s = replace(settings, lookahead=10_000)
    # a live host so the CPU class has slots; no worker consumes, we only admit
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            text("INSERT INTO worker_hosts (name, classes, cpu_slots) VALUES ('h', '[\"cpu\"]', 2)")
        )
    with transaction(settings.database_url) as session:
        enqueue_many(session, [JobSpec("noop") for _ in range(600)])
    first, second = Scheduler(s), Scheduler(s)
    import threading

    barrier = threading.Barrier(2)

    def run(scheduler: Scheduler) -> None:
        with scheduler.engine.connect() as conn:
            barrier.wait()
            for _ in range(5):
                scheduler.run_pass(conn, refresh=False)

    threads = [threading.Thread(target=run, args=(x,)) for x in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    first.engine.dispose()
    second.engine.dispose()
    assert scalar(settings, "SELECT count(*) FROM admission_audit") == 600
    assert scalar(settings, "SELECT count(DISTINCT job_id) FROM admission_audit") == 600


def _scheduler_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ) | settings_to_env(settings) | {"PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_killing_the_active_scheduler_hands_over_to_the_standby(
    settings: Settings, tmp_path: Path
) -> None:
    _admission_audit(settings)
    worker = WorkerProcess(settings, tmp_path / "w.log")
    procs = [_scheduler_process(settings, tmp_path / f"s{i}.log") for i in range(2)]
    try:
        with transaction(settings.database_url) as session:
            enqueue_many(session, [JobSpec("noop") for _ in range(50)])
        wait_until(lambda: status_counts(settings).get("completed") == 50, 60, what="batch 1")
        active = _leader(settings, procs)
        os.killpg(active.pid, signal.SIGKILL)
        active.wait(10)
        with transaction(settings.database_url) as session:
            enqueue_many(session, [JobSpec("noop") for _ in range(50)])
        wait_until(lambda: status_counts(settings).get("completed") == 100, 60, what="batch 2")
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        worker.close()
    assert scalar(settings, "SELECT count(DISTINCT job_id) FROM admission_audit") == 100
    assert scalar(settings, "SELECT count(*) FROM admission_audit") == 100


def _leader(settings: Settings, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """The scheduler process whose connection holds the leader lock (by application_name)."""
    name = scalar(
        settings,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.objid = :k AND l.granted"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        k=LEADER_LOCK,
    )
    assert name and name.startswith("mediaq-scheduler:"), name
    os_pid = int(name.rsplit(":", 1)[1])
    return next(p for p in procs if p.pid == os_pid)


def test_cancelled_queued_job_never_starts_though_its_message_is_in_redis(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, concurrency=1, lookahead=5)
    sched = SchedulerThread(s).start()
    worker = WorkerProcess(s, tmp_path / "w.log")
    try:
        with transaction(settings.database_url) as session:
            blocker = enqueue(session, JobSpec("noop", {"seconds": 2}))
            victim = enqueue(session, JobSpec("noop"))
            others = enqueue_many(session, [JobSpec("noop") for _ in range(3)])
        wait_until(
            lambda: (
                job_status(settings, blocker) == "running"
                and job_status(settings, victim) == "queued"
            ),
            30,
            what="victim queued behind the blocker",
        )
        with transaction(settings.database_url) as session:
            cancel_job(session, victim)
        wait_until(
            lambda: all(job_status(settings, j) == "completed" for j in [blocker, *others]),
            30,
            what="the others done",
        )
        time.sleep(1.0)  # the victim's message has been delivered and dropped by now
    finally:
        sched.close()
        worker.close()
    row = query(settings, "SELECT status, attempt, started_at FROM jobs WHERE id = :i", i=victim)[0]
    assert (row.status, row.attempt, row.started_at) == ("cancelled", 0, None)


def test_cancelling_a_running_job_stops_it_within_five_seconds(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, concurrency=1, lookahead=0)  # no look-ahead: the slot is all
    sched = SchedulerThread(s).start()
    worker = WorkerProcess(s, tmp_path / "w.log")
    try:
        with transaction(settings.database_url) as session:
            long_job = enqueue(session, JobSpec("noop", {"seconds": 60}))
        wait_until(lambda: job_status(settings, long_job) == "running", 30, what="running")
        with transaction(settings.database_url) as session:
            next_job = enqueue(session, JobSpec("noop"))
        time.sleep(0.5)
        assert job_status(settings, next_job) == "pending"  # the only slot is taken
        with transaction(settings.database_url) as session:
            cancel_job(session, long_job)
        cancelled_at = time.monotonic()
        # the slot frees only when the handler really stopped
        wait_until(lambda: job_status(settings, next_job) == "completed", 10, what="next job")
        freed_after = time.monotonic() - cancelled_at
    finally:
        sched.close()
        worker.close()
    assert freed_after < 5.0
    row = query(settings, "SELECT status, progress FROM jobs WHERE id = :i", i=long_job)[0]
    assert row.status == "cancelled"
    assert row.progress < 100


def test_a_cancelled_handler_that_ignores_sigterm_and_its_cancel_still_stops_in_five_seconds(
    settings: Settings, tmp_path: Path
) -> None:
    """``noop`` with ``stubborn``: a child that ignores SIGTERM, then a handler deaf to its
    cancel. The worker's hard stop ends both; the only slot runs the next job in 5 s."""
    s = replace(settings, concurrency=1, lookahead=0, cancel_poll_s=0.2)
    sched = SchedulerThread(s).start()
    worker = WorkerProcess(s, tmp_path / "w.log")
    try:
        with transaction(settings.database_url) as session:
            stubborn = enqueue(session, JobSpec("noop", {"seconds": 60, "stubborn": True}))
        wait_until(lambda: job_status(settings, stubborn) == "running", 30, what="running")
        deaf = wait_until(
            lambda: [p for p in worker.pids() if "trap '' TERM" in _cmdline(p)],
            10,
            what="the child that ignores SIGTERM",
        )
        with transaction(settings.database_url) as session:
            next_job = enqueue(session, JobSpec("noop"))
        time.sleep(0.5)
        assert job_status(settings, next_job) == "pending"  # the only slot is taken
        with transaction(settings.database_url) as session:
            cancel_job(session, stubborn)
        cancelled_at = time.monotonic()
        wait_until(lambda: job_status(settings, next_job) == "completed", 15, what="next job")
        freed_after = time.monotonic() - cancelled_at
        leftovers = [p for p in deaf if Path(f"/proc/{p}").exists()]
        log = worker.log_tail(20000)
    finally:
        sched.close()
        worker.close()
    assert freed_after < 5.0
    assert leftovers == []
    assert "ignored its cancel" in log
    assert job_status(settings, stubborn) == "cancelled"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_writes_carrying_an_old_attempt_number_change_nothing(settings: Settings) -> None:
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec("noop"))
    engine = engine_for(settings.database_url)
    cap = settings.log_max_chars

    def admit_and_claim() -> transitions.Claim:
        with engine.begin() as conn:
            conn.execute(text("UPDATE jobs SET status = 'queued' WHERE id = :i"), {"i": job_id})
            attempt = conn.execute(
                text("SELECT attempt FROM jobs WHERE id = :i"), {"i": job_id}
            ).scalar_one()
            claim = transitions.claim(conn, job_id, attempt, "h", None)
        assert claim is not None
        return claim

    old = admit_and_claim()
    with engine.begin() as conn:  # the attempt is rescued: back to pending, then runs again
        conn.execute(text("UPDATE jobs SET status = 'pending' WHERE id = :i"), {"i": job_id})
    new = admit_and_claim()
    assert new.attempt == old.attempt + 1
    with engine.begin() as conn:
        assert jobstore.report_progress(conn, job_id, new.attempt, 40)
        assert jobstore.append_log(conn, job_id, new.attempt, "new attempt\n", cap)
    before = query(settings, "SELECT * FROM jobs WHERE id = :i", i=job_id)
    with engine.begin() as conn:
        assert not jobstore.report_progress(conn, job_id, old.attempt, 99)
        assert not jobstore.append_log(conn, job_id, old.attempt, "zombie\n", cap)
        assert not jobstore.heartbeat(conn, job_id, old.attempt)
        assert not transitions.complete(conn, job_id, old.attempt, {"zombie": True}, cap)
        assert transitions.fail(conn, old, "zombie", False, cap) is None
        assert not transitions.refuse(conn, job_id, old.attempt, "X", "x", cap)
    # a second delivery of the same admission finds nothing to claim
    with engine.begin() as conn:
        assert transitions.claim(conn, job_id, old.attempt, "h", None) is None
    assert query(settings, "SELECT * FROM jobs WHERE id = :i", i=job_id) == before
