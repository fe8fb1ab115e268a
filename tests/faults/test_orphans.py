"""A host daemon's Celery workers never outlive it, nor run on under it while it is frozen."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.lifeline import POLL_S
from mediaq.settings import Settings
from tests.faults.audit import check_invariants, install_audit
from tests.faults.procs import alive, celery_workers_of, signal_all, tree
from tests.integration.fleet import (
    SchedulerThread,
    WorkerProcess,
    scalar,
    wait_for_workers,
    wait_until,
)


def _status(settings: Settings, job_id: int) -> str:
    return str(scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id))


def _enqueue(settings: Settings, seconds: float) -> int:
    with transaction(settings.database_url) as session:
        return enqueue(session, JobSpec("noop", {"seconds": seconds}))


def _pool_processes(worker: WorkerProcess) -> list[int]:
    return [p for p in tree(worker.proc.pid) if p != worker.proc.pid]


def _started_pool(worker: WorkerProcess, settings: Settings) -> list[int] | None:
    """The Celery processes below the daemon once the pool is up (main + children)."""
    below = _pool_processes(worker)
    return below if len(below) > settings.concurrency else None


def test_sigkilled_daemon_takes_its_celery_workers_along(
    settings: Settings, tmp_path: Path
) -> None:
    install_audit(settings.database_url)
    sched = SchedulerThread(settings).start()
    first = WorkerProcess(settings, tmp_path / "first.log")
    second = None
    try:
        wait_for_workers(settings, 1)
        job = _enqueue(settings, 20)
        wait_until(lambda: _status(settings, job) == "running", 30, what="job running")
        below = wait_until(lambda: _started_pool(first, settings), 30, what="celery pool")
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(5)
        killed_at = time.monotonic()
        wait_until(
            lambda: not any(alive(p) for p in below),
            5,
            what="no process left of the killed daemon",
        )
        gone_after = time.monotonic() - killed_at
        # A daemon started again runs the only Celery workers of the host; the job, whose
        # heartbeat stopped with its worker, is rescued and completes on them.
        second = WorkerProcess(settings, tmp_path / "second.log")
        wait_until(lambda: _status(settings, job) == "completed", 60, what="job completed")
        assert set(celery_workers_of(settings.host_name)) <= set(tree(second.proc.pid))
    finally:
        sched.close()
        first.close()
        if second is not None:
            second.close()
    assert gone_after < 2.0
    assert check_invariants(settings.database_url).problems == []


def test_a_frozen_daemon_stops_its_workers_and_restarts_them_when_thawed(
    settings: Settings, tmp_path: Path
) -> None:
    sched = SchedulerThread(settings).start()
    worker = WorkerProcess(settings, tmp_path / "w.log")
    try:
        wait_for_workers(settings, 1)
        # the Celery main process is up once its pool is (it starts watching then)
        below = wait_until(lambda: _started_pool(worker, settings), 60, what="celery pool")
        os.kill(worker.proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_until(
            lambda: not any(alive(p) for p in below),
            settings.heartbeat_timeout_s + 5,
            what="celery workers ended under a frozen daemon",
        )
        ended_after = time.monotonic() - stopped_at
        os.kill(worker.proc.pid, signal.SIGCONT)
        job = _enqueue(settings, 0)
        wait_until(lambda: _status(settings, job) == "completed", 60, what="job after thaw")
        assert not set(below) & set(tree(worker.proc.pid))
    finally:
        signal_all([worker.proc.pid], signal.SIGCONT)
        sched.close()
        worker.close()
    # ended after the heartbeat timeout, not before (a few seconds of slack: a loaded machine).
    # The freeze is counted from the daemon's last alive write, up to one alive interval and
    # one check before the SIGSTOP this test measures from.
    early = POLL_S + 0.1
    assert settings.heartbeat_timeout_s - early <= ended_after < settings.heartbeat_timeout_s + 5
