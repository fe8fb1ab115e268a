"""The worker's claim is durable; a plain completion (alone) and the scheduler's admissions skip
the WAL flush wait."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from mediaq.settings import Settings
from scheduler.service import Scheduler
from tasks.run_job import COMPLETION_HOLD_S, WorkerRuntime, completion_hold_s


def test_claims_wait_for_the_wal_flush_and_completions_do_not(settings: Settings) -> None:
    runtime = WorkerRuntime(settings)
    with runtime.claims.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with runtime.completions.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    runtime.close()


def test_only_the_cpu_worker_with_a_look_ahead_holds_successes(settings: Settings) -> None:
    assert completion_hold_s(settings) == COMPLETION_HOLD_S > 0
    # its next message is admitted only once the success is written: holding would delay it
    assert completion_hold_s(replace(settings, lookahead=0)) == 0
    assert completion_hold_s(replace(settings, worker_gpu="GPU-1")) == 0


def test_the_scheduler_admits_without_waiting_for_the_wal_flush(settings: Settings) -> None:
    scheduler = Scheduler(settings)
    try:
        with scheduler.engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
            conn.commit()
            scheduler.run_pass(conn, refresh=True)  # its rescues turn it on for themselves
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    finally:
        scheduler.publisher.close()
        scheduler.engine.dispose()
