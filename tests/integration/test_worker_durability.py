"""The worker's claim is durable; only a plain completion skips the WAL flush wait."""

from __future__ import annotations

from sqlalchemy import text

from mediaq.settings import Settings
from tasks.run_job import WorkerRuntime


def test_claims_wait_for_the_wal_flush_and_completions_do_not(settings: Settings) -> None:
    runtime = WorkerRuntime(settings)
    with runtime.claims.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with runtime.completions.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    runtime.close()
