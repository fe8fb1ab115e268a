"""Retention on the real database: only finished rows past their status's age go."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.pipelines import StepSpec, create_pipeline
from mediaq.settings import Settings
from scheduler.retention import prune, prune_finished, retention_days
from tests.integration.fleet import query, scalar


def _age(settings: Settings, ids: list[int], status: str, days: float) -> None:
    with transaction(settings.database_url) as session:
        session.execute(
            text(
                "UPDATE jobs SET status = :s, completed_at = now() - make_interval(secs => :d) "
                "WHERE id = ANY(:ids)"
            ),
            {"s": status, "d": days * 86400, "ids": ids},
        )


def test_pruning_removes_only_finished_rows_past_their_age(settings: Settings) -> None:
    with transaction(settings.database_url) as session:
        ids = enqueue_many(session, [JobSpec("noop")] * 12)
        pipeline = create_pipeline(
            session, "p", [StepSpec("noop"), StepSpec("noop", depends_on=(0,))]
        )
    old_done, new_done, old_failed, young_failed = ids[0:2], ids[2:4], ids[4:6], ids[6:8]
    old_cancelled, live = ids[8:10], ids[10:12]
    _age(settings, old_done, "completed", 8)
    _age(settings, new_done, "completed", 6)
    _age(settings, old_failed, "failed", 31)
    _age(settings, young_failed, "failed", 8)
    _age(settings, old_cancelled, "cancelled", 8)
    # pending and running rows are never touched, however old
    with transaction(settings.database_url) as session:
        session.execute(
            text(
                "UPDATE jobs SET created_at = now() - interval '90 days', "
                "completed_at = now() - interval '90 days', status = 'running' WHERE id = :i"
            ),
            {"i": live[1]},
        )
    # a finished step of a pipeline that is still going stays
    step = scalar(settings, "SELECT min(id) FROM jobs WHERE pipeline_id = :p", p=pipeline)
    _age(settings, [step], "completed", 40)
    settings = replace(settings, retain_completed_days=7, retain_failed_days=30)
    assert retention_days(settings) == {"completed": 7, "failed": 30, "cancelled": 7}
    line = prune_finished(settings)
    assert line == "2 completed, 2 failed, 2 cancelled jobs pruned"
    left = {r.id for r in query(settings, "SELECT id FROM jobs")}
    gone = set(old_done) | set(old_failed) | set(old_cancelled)
    assert left.isdisjoint(gone)
    assert left >= set(new_done) | set(young_failed) | set(live) | {step}
    counts = {
        r.status: int(r.n)
        for r in query(settings, "SELECT status, sum(n) AS n FROM job_count_totals GROUP BY status")
    }
    assert counts == {"completed": 3, "failed": 2, "cancelled": 0}


def test_zero_keeps_forever_and_batches_are_small(settings: Settings) -> None:
    with transaction(settings.database_url) as session:
        ids = enqueue_many(session, [JobSpec("noop")] * 250)
    _age(settings, ids, "completed", 400)
    engine = engine_for(settings.database_url)
    assert prune(engine, {"completed": 0, "failed": 0, "cancelled": 0}).total == 0
    report = prune(engine, {"completed": 7}, batch=100, max_batches=2)
    assert report.deleted == {"completed": 200}  # two batches per run, the rest next run
    assert prune(engine, {"completed": 7}, batch=100, max_batches=2).total == 50
    assert scalar(settings, "SELECT count(*) FROM jobs") == 0
