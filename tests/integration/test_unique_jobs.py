"""Unique jobs: one live row per ``uniqueKey`` under concurrency; attempts in the job detail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import text

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_job
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.fleet import fleet, scalar, wait_for_workers, wait_until


def test_fifty_concurrent_enqueues_of_one_key_make_one_row(settings: Settings) -> None:
    headers = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    body = {"type": "noop", "uniqueKey": "nightly-scan"}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:

        def post(_: int) -> httpx.Response:
            return client.post("/api/jobs", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=25) as pool:
            responses = list(pool.map(post, range(50)))
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    ids = {r.json()["job"]["id"] for r in responses}
    assert len(ids) == 1
    assert scalar(settings, "SELECT count(*) FROM jobs WHERE unique_key = 'nightly-scan'") == 1
    assert responses[0].json()["job"]["uniqueKey"] == "nightly-scan"


def test_a_finished_key_may_be_enqueued_again_and_python_says_which(settings: Settings) -> None:
    with transaction(settings.database_url) as session:
        first, created = enqueue_job(session, JobSpec("noop", unique_key="k"))
        again, created_again = enqueue_job(session, JobSpec("noop", unique_key="k"))
        other = enqueue(session, JobSpec("noop", unique_key="other"))
    assert (created, created_again, again) == (True, False, first)
    assert other != first
    with transaction(settings.database_url) as session:
        session.execute(text("UPDATE jobs SET status = 'cancelled' WHERE id = :i"), {"i": first})
    with transaction(settings.database_url) as session:
        fresh, created = enqueue_job(session, JobSpec("noop", unique_key="k"))
    assert created and fresh != first


def test_bad_unique_key_is_a_400_naming_it(settings: Settings) -> None:
    headers = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        response = client.post(
            "/api/jobs", json={"type": "noop", "uniqueKey": "x" * 500}, headers=headers
        )
        assert response.status_code == 400
        assert "uniqueKey" in response.json()["error"]
        assert scalar(settings, "SELECT count(*) FROM jobs") == 0


def test_job_detail_lists_every_attempt(settings: Settings, tmp_path: Path) -> None:
    """A job that fails twice then gives up shows three attempts with host and error."""
    headers = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec("noop", {"fail": "transient"}, max_attempts=2))
    with fleet(settings, tmp_path):
        wait_for_workers(settings, 1)

        def failed_for_good() -> bool:
            # backoff between attempts is real; make a waiting retry due at once
            with transaction(settings.database_url) as session:
                session.execute(
                    text(
                        "UPDATE jobs SET not_before = now() WHERE id = :i "
                        "AND status = 'pending' AND not_before > now()"
                    ),
                    {"i": job_id},
                )
            return scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id) == "failed"

        wait_until(failed_for_good, 60, interval=0.2, what="the job to fail for good")
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
    attempts = job["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert [a["outcome"] for a in attempts] == ["retrying", "failed"]
    assert all(a["host"] and a["startedAt"] and a["endedAt"] for a in attempts)
    assert all(a["error"] for a in attempts)
