"""Bulk actions on the real services: cancel by filter over 10,000 pending jobs, retry of
failed jobs, delete of finished ones only; bad requests change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.jsonfmt import iso
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.fleet import (
    WorkerProcess,
    fleet,
    query,
    scalar,
    status_counts,
    wait_for_workers,
    wait_until,
)


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    admin = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client, admin


def _count(settings: Settings, where: str, **params: object) -> int:
    return int(scalar(settings, f"SELECT count(*) FROM jobs WHERE {where}", **params))


def test_cancel_by_filter_over_ten_thousand_pending_changes_exactly_those(
    settings: Settings, tmp_path: Path, api: tuple[httpx.Client, dict[str, str]]
) -> None:
    client, admin = api
    gpu_job = JobSpec("noop", resource_category="gpu_ai", vram_required=1024)
    with transaction(settings.database_url) as session:
        targets = enqueue_many(session, [gpu_job] * 10_000)
    cutoff = scalar(settings, "SELECT now()")
    with transaction(settings.database_url) as session:
        later_gpu = enqueue_many(session, [gpu_job] * 20)
        cpu = enqueue_many(session, [JobSpec("noop")] * 20)
    # a CPU-only host runs the CPU jobs; the GPU jobs wait for a GPU
    cpu_host = {"classes": ("cpu",)}
    with fleet(settings, tmp_path, worker_overrides=[cpu_host]):
        wait_for_workers(settings, 1)
        response = client.post(
            "/api/jobs/bulk",
            json={
                "action": "cancel",
                "filter": {
                    "status": "pending",
                    "resourceCategory": "gpu_ai",
                    "createdBefore": iso(cutoff),
                },
            },
            headers=admin,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"action": "cancel", "matched": 10_000, "changed": 10_000}
        cancelled = query(settings, "SELECT id FROM jobs WHERE status = 'cancelled'")
        assert {r.id for r in cancelled} == set(targets)
        # now a GPU host arrives: only the jobs outside the filter may run
        gpu_host = replace(
            settings, host_name=f"{settings.host_name}-gpu", fake_gpus=(8192,), classes=("gpu_ai",)
        )
        worker = WorkerProcess(gpu_host, tmp_path / "gpu.log")
        try:
            wait_until(
                lambda: _count(settings, "status = 'completed'") == 40,
                90,
                what="the 40 jobs outside the filter to complete",
            )
        finally:
            worker.close()
    assert status_counts(settings) == {"cancelled": 10_000, "completed": 40}
    assert (
        scalar(settings, "SELECT count(*) FROM job_attempts WHERE job_id = ANY(:t)", t=targets) == 0
    )
    ran = {r.id for r in query(settings, "SELECT id FROM jobs WHERE status = 'completed'")}
    assert ran == set(later_gpu) | set(cpu)


def test_bulk_retry_of_failed_jobs_runs_them_again(
    settings: Settings, tmp_path: Path, api: tuple[httpx.Client, dict[str, str]]
) -> None:
    client, admin = api
    with transaction(settings.database_url) as session:
        failing = enqueue_many(session, [JobSpec("noop", {"fail": "permanent"})] * 5)
        fine = enqueue_many(session, [JobSpec("noop")] * 3)
    with fleet(settings, tmp_path):
        wait_for_workers(settings, 1)
        wait_until(
            lambda: status_counts(settings) == {"failed": 5, "completed": 3}, 60, what="round 1"
        )
        response = client.post(
            "/api/jobs/bulk", json={"action": "retry", "ids": failing + fine}, headers=admin
        )
        assert response.json() == {"action": "retry", "matched": 8, "changed": 5}
        wait_until(
            lambda: (
                scalar(
                    settings,
                    "SELECT count(*) FROM job_attempts "
                    "WHERE job_id = ANY(:f) AND ended_at IS NOT NULL",
                    f=failing,
                )
                == 10
            ),
            60,
            what="a second attempt of each failed job",
        )
        wait_until(
            lambda: status_counts(settings) == {"failed": 5, "completed": 3}, 60, what="round 2"
        )
        by_filter = client.post(
            "/api/jobs/bulk",
            json={"action": "retry", "filter": {"status": "failed"}},
            headers=admin,
        )
        assert by_filter.json()["changed"] == 5
    attempts = query(settings, "SELECT attempt FROM jobs WHERE id = ANY(:f)", f=fine)
    assert {r.attempt for r in attempts} == {1}  # the completed ones were never touched


def test_bulk_delete_removes_only_finished_jobs(
    settings: Settings, api: tuple[httpx.Client, dict[str, str]]
) -> None:
    client, admin = api
    with transaction(settings.database_url) as session:
        ids = enqueue_many(session, [JobSpec("noop")] * 6)
    with transaction(settings.database_url) as session:
        session.execute(
            text("UPDATE jobs SET status = 'completed', completed_at = now() WHERE id = ANY(:i)"),
            {"i": ids[:3]},
        )
    response = client.post("/api/jobs/bulk", json={"action": "delete", "ids": ids}, headers=admin)
    assert response.json() == {"action": "delete", "matched": 6, "changed": 3}
    assert sorted(r.id for r in query(settings, "SELECT id FROM jobs")) == ids[3:]
    assert scalar(settings, "SELECT coalesce(sum(n), 0) FROM job_count_totals") == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"action": "cancel"}, "exactly one of ids or filter"),
        ({"action": "cancel", "ids": [1], "filter": {}}, "exactly one of ids or filter"),
        ({"action": "explode", "ids": [1]}, "action must be one of"),
        ({"action": "cancel", "ids": ["a"]}, "ids must be positive integers"),
        ({"action": "cancel", "filter": {"colour": "red"}}, "filter.colour"),
        ({"action": "cancel", "filter": {"status": "sleeping"}}, "status must be one of"),
        ({"action": "cancel", "filter": {"createdBefore": "yesterday"}}, "createdBefore"),
        ({"action": "delete", "ids": list(range(1, 10_002))}, "at most 10000 ids"),
    ],
)
def test_bad_bulk_requests_are_400_and_change_nothing(
    settings: Settings,
    api: tuple[httpx.Client, dict[str, str]],
    body: dict[str, object],
    needle: str,
) -> None:
    client, admin = api
    with transaction(settings.database_url) as session:
        enqueue_many(session, [JobSpec("noop")] * 3)
    response = client.post("/api/jobs/bulk", json=body, headers=admin)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert status_counts(settings) == {"pending": 3}
