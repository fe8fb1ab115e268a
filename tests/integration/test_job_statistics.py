"""The active scheduler refreshes the planner's statistics after a burst it does not know of."""

from __future__ import annotations

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.settings import Settings
from scheduler.jobstats import estimated_pending
from scheduler.service import Scheduler

BURST = 1500


def test_a_burst_of_jobs_is_known_to_the_planner_after_the_next_refresh_pass(
    settings: Settings,
) -> None:
    with transaction(settings.database_url) as session:
        enqueue_many(session, [JobSpec("noop") for _ in range(BURST)])
    scheduler = Scheduler(settings)
    try:
        with scheduler.engine.connect() as conn:
            # autovacuum looks at a table at most once a minute: until then the planner
            # believes almost nothing is pending (and plans admissions for that)
            with conn.begin():
                before = estimated_pending(conn)
            assert before * 10 < BURST
            scheduler.run_pass(conn, refresh=True)  # no worker: nothing is admitted
            with conn.begin():
                after = estimated_pending(conn)
            assert BURST / 2 <= after <= BURST * 2
    finally:
        scheduler.engine.dispose()
