"""A refused preflight gives the job back without spending an attempt, and each refusal in a
row waits longer before the job may be admitted again: a host whose preflight cannot answer
(its daemon's socket gone) must not take the same job back many times a second."""

from __future__ import annotations

from sqlalchemy import text

from mediaq import transitions
from mediaq.backoff import REFUSAL_CAP_S, refusal_delay_s
from mediaq.db import engine_for
from mediaq.jobstates import JobStatus
from mediaq.settings import Settings
from tests.integration.fleet import query
from tests.integration.test_transitions_db import CAP, make_job


def test_refusals_back_off_doubling_to_the_cap_spend_no_attempt_and_a_retry_resets_them(
    settings: Settings,
) -> None:
    engine = engine_for(settings.database_url)
    job_id = make_job(settings, JobStatus.RUNNING, attempt=1)
    waits = []
    for attempt in range(1, 10):
        with engine.begin() as conn:
            if attempt > 1:  # admitted and claimed again (the waits are not awaited here)
                conn.execute(
                    text("UPDATE jobs SET status = 'running', attempt = :a WHERE id = :i"),
                    {"a": attempt, "i": job_id},
                )
            assert transitions.refuse(conn, job_id, attempt, "PREFLIGHT_FAILED", "no room", CAP)
            # a second report of the same attempt changes nothing (fenced)
            assert not transitions.refuse(conn, job_id, attempt, "PREFLIGHT_FAILED", "x", CAP)
        (row,) = query(
            settings,
            "SELECT status, failures, refusals, not_before > now() AS later,"
            " EXTRACT(EPOCH FROM not_before - updated_at) AS wait FROM jobs WHERE id = :i",
            i=job_id,
        )
        assert (row.status, row.failures, row.refusals, row.later) == ("pending", 0, attempt, True)
        waits.append(float(row.wait))
    assert waits == [refusal_delay_s(n) for n in range(1, 10)]
    assert waits[:3] == [0.5, 1.0, 2.0] and waits[-1] == REFUSAL_CAP_S
    with engine.begin() as conn:
        assert transitions.cancel(conn, job_id)
        assert transitions.retry(conn, job_id)
    (row,) = query(settings, "SELECT refusals, not_before FROM jobs WHERE id = :i", i=job_id)
    assert (row.refusals, row.not_before) == (0, None)


def test_a_refused_job_is_not_admitted_again_before_its_wait(settings: Settings) -> None:
    engine = engine_for(settings.database_url)
    job_id = make_job(settings, JobStatus.RUNNING, attempt=1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET priority = 1000 WHERE id = :i"), {"i": job_id})
        assert transitions.refuse(conn, job_id, 1, "PREFLIGHT_FAILED", "no room", CAP)
        admitted = transitions.admit_cpu_head(conn, room=10_000)
    assert job_id not in [a.job_id for a in admitted]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET not_before = now() - interval '1 ms' WHERE id = :i"),
            {"i": job_id},
        )
        admitted = transitions.admit_cpu_head(conn, room=10_000)
    assert job_id in [a.job_id for a in admitted]
