"""A worker's held success: written with its next claim (one commit), alone after the hold,
fenced by its attempt, and, when the process is killed holding it, rerun by the rescue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mediaq import transitions
from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings, settings_to_env
from scheduler.model import Placement
from tasks.run_job import WorkerRuntime, execute_job

ROOT = Path(__file__).resolve().parents[2]


def queued_noops(settings: Settings, n: int) -> list[int]:
    with transaction(settings.database_url) as session:
        ids = [enqueue(session, JobSpec("noop", resource_category="cpu")) for _ in range(n)]
    with engine_for(settings.database_url).begin() as conn:
        transitions.admit(conn, [Placement(i) for i in ids])
    return ids


def rows(settings: Settings, ids: list[int]) -> dict[int, Any]:
    with engine_for(settings.database_url).connect() as conn:
        found = conn.execute(
            text(
                "SELECT id, status, attempt, failures, started_at, completed_at FROM jobs"
                " WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    return {r.id: r for r in found}


def attempts(settings: Settings, job_id: int) -> list[tuple[int, str | None]]:
    with engine_for(settings.database_url).connect() as conn:
        return [
            (r.attempt, r.outcome)
            for r in conn.execute(
                text("SELECT attempt, outcome FROM job_attempts WHERE job_id = :j ORDER BY 1"),
                {"j": job_id},
            )
        ]


def test_a_success_rides_with_the_next_claim_once(settings: Settings) -> None:
    first, second = queued_noops(settings, 2)
    runtime = WorkerRuntime(settings, hold_s=60.0)  # only a claim or close() writes it
    try:
        assert execute_job(runtime, first, 0).status == "completed"
        assert rows(settings, [first])[first].status == "running"  # held, not written yet
        assert execute_job(runtime, second, 0).status == "completed"
        got = rows(settings, [first, second])
        assert got[first].status == "completed"
        # one statement, one transaction: the success and the claim share now()
        assert got[first].completed_at == got[second].started_at
        assert got[second].status == "running"
        assert execute_job(runtime, first, 0).status == "dropped"  # a second delivery
    finally:
        runtime.close()  # a process ending writes what it holds
    got = rows(settings, [first, second])
    assert [got[j].status for j in (first, second)] == ["completed", "completed"]
    assert [got[j].attempt for j in (first, second)] == [1, 1]
    assert attempts(settings, first) == [(1, "completed")]
    assert attempts(settings, second) == [(1, "completed")]


def test_a_held_success_is_written_alone_after_the_hold(settings: Settings) -> None:
    (job,) = queued_noops(settings, 1)
    runtime = WorkerRuntime(settings, hold_s=0.05)
    try:
        assert execute_job(runtime, job, 0).status == "completed"
        deadline = time.monotonic() + 5
        while rows(settings, [job])[job].status != "completed":
            assert time.monotonic() < deadline, "the held success was never written"
            time.sleep(0.02)
    finally:
        runtime.close()
    assert attempts(settings, job) == [(1, "completed")]


def test_the_last_success_of_a_burst_is_written_alone(settings: Settings) -> None:
    """The writer thread waits for the first hold's deadline while later successes ride
    with claims; the last one, with no claim after it, is still written within two holds."""
    jobs = queued_noops(settings, 3)
    runtime = WorkerRuntime(settings, hold_s=0.2)
    try:
        for job in jobs:
            assert execute_job(runtime, job, 0).status == "completed"
        held_at = time.monotonic()
        while rows(settings, [jobs[-1]])[jobs[-1]].status != "completed":
            assert time.monotonic() - held_at < 2.0, "the last held success was never written"
            time.sleep(0.02)
        assert time.monotonic() - held_at < 0.6  # two holds and some slack, not a timeout
    finally:
        runtime.close()
    assert {r.status for r in rows(settings, jobs).values()} == {"completed"}
    assert [attempts(settings, j) for j in jobs] == [[(1, "completed")]] * 3


def test_a_stale_attempts_held_success_changes_nothing(settings: Settings) -> None:
    stale, other = queued_noops(settings, 2)
    runtime = WorkerRuntime(settings, hold_s=60.0)
    cap = settings.log_max_chars
    try:
        assert execute_job(runtime, stale, 0).status == "completed"  # attempt 1, held
        # Meanwhile attempt 1 is taken for lost and the job runs again elsewhere (attempt 2).
        with engine_for(settings.database_url).begin() as conn:
            assert stale in transitions.fail_silent_attempts(conn, -1.0, cap)
            conn.execute(text("UPDATE jobs SET not_before = NULL WHERE id = :j"), {"j": stale})
            transitions.admit(conn, [Placement(stale)])
            again = transitions.claim(conn, stale, 1, "elsewhere", None)
        assert again is not None and again.attempt == 2
        assert execute_job(runtime, other, 0).status == "completed"  # carries attempt 1's
    finally:
        runtime.close()
    got = rows(settings, [stale])[stale]
    assert (got.status, got.attempt, got.completed_at) == ("running", 2, None)
    assert attempts(settings, stale) == [(1, "retrying"), (2, None)]


KILLED_WORKER = """
import sys, time
from mediaq.settings import Settings
from tasks.run_job import WorkerRuntime, execute_job
runtime = WorkerRuntime(Settings.from_env(), hold_s=600.0)
print(execute_job(runtime, int(sys.argv[1]), 0).status, flush=True)
time.sleep(600)
"""


def test_a_worker_killed_holding_a_success_loses_nothing(settings: Settings) -> None:
    """The held success dies with the process; the heartbeat rescue retries the job, which
    then runs again to completion (at least once, never two attempts at once)."""
    (job,) = queued_noops(settings, 1)
    env = dict(os.environ) | settings_to_env(settings) | {"PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, str(job)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "completed"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
    got = rows(settings, [job])[job]
    assert (got.status, got.attempt) == ("running", 1)  # the success was only in memory
    cap = settings.log_max_chars
    with engine_for(settings.database_url).begin() as conn:
        decision = transitions.fail_silent_attempts(conn, -1.0, cap)[job]
        assert decision.retry
        conn.execute(text("UPDATE jobs SET not_before = NULL WHERE id = :j"), {"j": job})
        transitions.admit(conn, [Placement(job)])
    runtime = WorkerRuntime(settings)
    try:
        assert execute_job(runtime, job, 1).status == "completed"
    finally:
        runtime.close()
    got = rows(settings, [job])[job]
    assert (got.status, got.attempt, got.failures) == ("completed", 2, 1)
    assert attempts(settings, job) == [(1, "retrying"), (2, "completed")]
