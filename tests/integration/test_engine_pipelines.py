"""Pipelines resolved in the database, and retries with backoff up to a per-type maximum."""

from __future__ import annotations

import itertools
from pathlib import Path

from sqlalchemy import text

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.jobcontrol import retry_job
from mediaq.pipelines import StepSpec, create_pipeline
from mediaq.settings import Settings
from tests.integration.fleet import fleet, query, scalar, wait_until


def pipeline_jobs(settings: Settings, pipeline_id: int) -> list:
    return query(
        settings,
        "SELECT j.id, j.status, j.started_at, j.completed_at, s.step_index FROM jobs j "
        "JOIN pipeline_steps s ON s.id = j.pipeline_step_id WHERE j.pipeline_id = :p "
        "ORDER BY s.step_index",
        p=pipeline_id,
    )


def test_three_step_pipeline_runs_in_order(settings: Settings, tmp_path: Path) -> None:
    steps = [
        StepSpec("noop", {"seconds": 0.3}),
        StepSpec("noop", {"seconds": 0.3}, depends_on=(0,)),
        StepSpec("noop", {"seconds": 0.3}, depends_on=(1,)),
    ]
    with transaction(settings.database_url) as session:
        pipeline_id = create_pipeline(session, "three", steps)
    held = scalar(settings, "SELECT count(*) FROM jobs WHERE held AND waiting_code = 'DEPENDENCY'")
    assert held == 2
    with fleet(settings, tmp_path):
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM pipelines WHERE id = :p", p=pipeline_id)
                == "completed"
            ),
            60,
            what="pipeline completed",
        )
    jobs = pipeline_jobs(settings, pipeline_id)
    assert [j.status for j in jobs] == ["completed"] * 3
    for before, after in itertools.pairwise(jobs):
        assert after.started_at >= before.completed_at


def test_failing_middle_step_cancels_the_last(settings: Settings, tmp_path: Path) -> None:
    steps = [
        StepSpec("noop"),
        StepSpec("noop", {"fail": "permanent"}, depends_on=(0,)),
        StepSpec("noop", depends_on=(1,)),
    ]
    with transaction(settings.database_url) as session:
        pipeline_id = create_pipeline(session, "broken", steps)
    with fleet(settings, tmp_path):
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM pipelines WHERE id = :p", p=pipeline_id)
                == "failed"
            ),
            60,
            what="pipeline failed",
        )
    jobs = pipeline_jobs(settings, pipeline_id)
    assert [j.status for j in jobs] == ["completed", "failed", "cancelled"]
    assert jobs[2].started_at is None  # the last step never ran


def test_transient_failures_retry_with_backoff_then_fail_keeping_the_error(
    settings: Settings, tmp_path: Path
) -> None:
    with transaction(settings.database_url) as session:
        flaky = enqueue(session, JobSpec("noop", {"fail": "transient"}, max_attempts=2))
        broken = enqueue(session, JobSpec("noop", {"fail": "permanent"}, max_attempts=5))
    with fleet(settings, tmp_path):
        wait_until(
            lambda: scalar(settings, "SELECT count(*) FROM jobs WHERE status = 'failed'") == 2,
            60,
            what="both failed",
        )
    rows = {
        r.id: r for r in query(settings, "SELECT id, attempt, failures, log, last_error FROM jobs")
    }
    assert (rows[flaky].attempt, rows[flaky].failures) == (2, 2)  # retried once, then gave up
    assert "[attempt 1] error" in rows[flaky].log and "[attempt 2] error" in rows[flaky].log
    assert "noop asked to fail (transient)" in rows[flaky].last_error
    assert "retry 1/1" in rows[flaky].log and "giving up" in rows[flaky].log
    assert (rows[broken].attempt, rows[broken].failures) == (1, 1)  # permanent: never retried
    assert "PermanentError" in rows[broken].last_error


def test_a_failed_job_retried_by_request_runs_again(settings: Settings, tmp_path: Path) -> None:
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec("noop", {"fail": "permanent"}))
    with fleet(settings, tmp_path):
        wait_until(
            lambda: scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id) == "failed",
            30,
        )
        with transaction(settings.database_url) as session:
            # fix the params the way an operator would, then retry
            session.execute(
                text("UPDATE jobs SET params = '{}'::jsonb WHERE id = :i"),
                {"i": job_id},
            )
            retry_job(session, job_id)
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id) == "completed"
            ),
            30,
        )
    assert scalar(settings, "SELECT attempt FROM jobs WHERE id = :i", i=job_id) == 2
