"""Retention: finished jobs are deleted some days after they ended, in small batches.

Run by the active scheduler's periodic work. Each status has its own age
(``MEDIAQ_RETAIN_{COMPLETED,FAILED,CANCELLED}_DAYS``; 0 keeps forever). Only completed, failed
and cancelled jobs are ever touched, never a step of a pipeline that is still going; each
batch is one short transaction over the oldest rows (``idx_jobs_finished``), skipping rows
another transaction holds, so pruning never stalls the API or the workers. A job's attempts go
with it; its schedule slot stays (it only records that the slot was enqueued).

A PostgreSQL queue must keep its hot table small: with retention on, the ``jobs`` table and
its indexes stay bounded by what finishes within the retention window (autovacuum reuses the
freed space), so admission, claims and scrapes cost the same after a year as on day one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from mediaq.bulk import PIPELINE_DONE_SQL
from mediaq.db import engine_for
from mediaq.jobcounts import fold
from mediaq.models import FINISHED_STATUSES
from mediaq.settings import Settings
from scheduler.periodic import periodic

PRUNE_EVERY_S = 30.0
PRUNE_BATCH = 1_000
MAX_BATCHES = 20  # per status and run: at most 20,000 rows per status every 30 s
SCHEDULE_RUNS_DAYS = 30  # schedule slot records kept this long


def retention_days(settings: Settings) -> dict[str, int]:
    """Days each finished status is kept (0: forever), in ``FINISHED_STATUSES`` order."""
    days = {
        "completed": settings.retain_completed_days,
        "failed": settings.retain_failed_days,
        "cancelled": settings.retain_cancelled_days,
    }
    return {status: days[status] for status in FINISHED_STATUSES}


_PRUNE = text(
    f"""
    DELETE FROM jobs WHERE id IN (
        SELECT id FROM jobs
         WHERE status = :status AND completed_at < now() - make_interval(days => :days)
           AND {PIPELINE_DONE_SQL}
         ORDER BY completed_at
         LIMIT :n
         FOR UPDATE SKIP LOCKED)
    """
)


@dataclass(frozen=True)
class PruneReport:
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def prune(
    engine: Engine, days: dict[str, int], batch: int = PRUNE_BATCH, max_batches: int = MAX_BATCHES
) -> PruneReport:
    """Delete finished jobs older than their status's age, ``batch`` rows per transaction."""
    deleted: dict[str, int] = {}
    for status, age in days.items():
        if age <= 0:
            continue
        total = 0
        for _ in range(max_batches):
            with engine.begin() as conn:
                n = conn.execute(_PRUNE, {"status": status, "days": age, "n": batch}).rowcount
            total += n
            if n < batch:
                break
        if total:
            deleted[status] = total
    if any(age > 0 for age in days.values()):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM schedule_runs WHERE created_at < now() - make_interval(days => :d)"
                ),
                {"d": SCHEDULE_RUNS_DAYS},
            )
    return PruneReport(deleted)


FOLD_EVERY_S = 2.0
VACUUM_AFTER_ROWS = 1_000  # a fold that moved more vacuums the deltas table at once


@periodic("fold_job_counts", FOLD_EVERY_S)
def fold_job_counts(settings: Settings) -> str | None:
    """Periodic entry: fold the finished-job count deltas. After a burst (a bulk action, a
    large import) the deltas table is vacuumed at once: readers scan it, and its dead rows
    would cost them until autovacuum came by."""
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        moved = fold(conn)
    if moved > VACUUM_AFTER_ROWS:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM job_count_deltas")
            )
    return None


@periodic("retention", PRUNE_EVERY_S)
def prune_finished(settings: Settings) -> str | None:
    """Periodic entry: one pruning run; a line only when something was deleted."""
    report = prune(engine_for(settings.database_url), retention_days(settings))
    if not report.total:
        return None
    return ", ".join(f"{n} {status}" for status, n in report.deleted.items()) + " jobs pruned"
