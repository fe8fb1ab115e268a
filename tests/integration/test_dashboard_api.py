"""The dashboard's JSON feed and ``/metrics`` on a known fleet state (real PostgreSQL, Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api_shim.auth import mint_token
from mediaq.db import engine_for
from mediaq.metrics import counters_key, read_counters
from mediaq.settings import Settings
from scheduler.service import Scheduler
from tasks.run_job import WorkerRuntime, execute_job
from tests.integration.apiharness import live_server

GPU = "GPU-11111111-2222-3333-4444-555555555555"


def sql(settings: Settings, statement: str, **params: Any) -> Any:
    with engine_for(settings.database_url).begin() as conn:
        return conn.execute(text(statement), params)


def insert_job(settings: Settings, **columns: Any) -> int:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return int(
        sql(
            settings, f"INSERT INTO jobs ({names}) VALUES ({values}) RETURNING id", **columns
        ).scalar_one()
    )


@pytest.fixture
def fleet_state(settings: Settings) -> dict[str, int]:
    """One live host with a 24 GiB GPU: a job running on it, two GPU jobs held back, one CPU."""
    sql(
        settings,
        "INSERT INTO worker_hosts (name, classes, cpu_slots, gpu_slots, nvenc_sessions)"
        ' VALUES (:h, \'["cpu", "gpu_ai"]\'::jsonb, 2, 4, 3)',
        h=settings.host_name,
    )
    sql(
        settings,
        "INSERT INTO gpus (uuid, host_name, index, name, total_mib, free_mib, used_mib,"
        " foreign_mib) VALUES (:u, :h, 0, 'RTX 4090', 24576, 14336, 10240, 2048)",
        u=GPU,
        h=settings.host_name,
    )
    running = insert_job(
        settings,
        type="tag_generation",
        status="running",
        resource_category="gpu_ai",
        vram_required=8192,
        assigned_host=settings.host_name,
        assigned_gpu=GPU,
        progress=40,
        attempt=1,
    )
    reason = "RESOURCES_VRAM: needs 16384 MiB; best GPU has 13824 MiB available"
    first = insert_job(
        settings,
        type="tag_generation",
        status="pending",
        resource_category="gpu_ai",
        vram_required=16384,
        priority=9,
        waiting_code="RESOURCES_VRAM",
        waiting_reason=reason,
        queue_position=1,
    )
    second = insert_job(
        settings,
        type="scene_extract",
        status="pending",
        resource_category="gpu_ai",
        vram_required=2048,
        waiting_code="PRIORITY",
        waiting_reason="PRIORITY: 1 job ahead in gpu_ai",
        queue_position=2,
    )
    cpu = insert_job(settings, type="noop", status="pending", resource_category="cpu")
    return {"running": running, "first": first, "second": second, "cpu": cpu}


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield http


def bearer(settings: Settings, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 1, role)}"}


def test_dashboard_feed_needs_an_admin(client: httpx.Client, settings: Settings) -> None:
    assert client.get("/api/dashboard/queue").status_code == 401
    assert client.get("/api/dashboard/queue", headers=bearer(settings, "user")).status_code == 403


def test_dashboard_page_and_script_are_served(client: httpx.Client) -> None:
    page = client.get("/admin/queue")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/admin/static/dashboard.js" in page.text
    script = client.get("/admin/static/dashboard.js")
    assert script.status_code == 200 and "/api/dashboard/queue" in script.text
    assert client.get("/admin", follow_redirects=False).status_code == 307


def test_dashboard_feed_shows_classes_vram_order_and_progress(
    client: httpx.Client, settings: Settings, fleet_state: dict[str, int]
) -> None:
    response = client.get("/api/dashboard/queue", headers=bearer(settings, "admin"))
    assert response.status_code == 200
    data = response.json()
    assert data["classes"]["gpu_ai"] == {"pending": 2, "queued": 0, "running": 1}
    assert data["classes"]["cpu"]["pending"] == 1
    [host] = data["hosts"]
    [gpu] = host["gpus"]
    assert (gpu["uuid"], gpu["totalMib"], gpu["reservedMib"], gpu["foreignMib"]) == (
        GPU,
        24576,
        8192,
        2048,
    )
    pending = data["pending"]["gpu_ai"]
    assert [(j["id"], j["position"]) for j in pending] == [
        (fleet_state["first"], 1),
        (fleet_state["second"], 2),
    ]
    assert pending[0]["waitingCode"] == "RESOURCES_VRAM"
    assert pending[0]["waitingReason"].startswith("RESOURCES_VRAM: needs 16384 MiB")
    [active] = data["active"]
    assert (active["id"], active["progress"], active["assignedGpu"]) == (
        fleet_state["running"],
        40,
        GPU,
    )


def scrape(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_read_the_fleet_from_the_database(
    client: httpx.Client, settings: Settings, fleet_state: dict[str, int]
) -> None:
    found = scrape(client)

    def get(metric: str, **labels: str) -> float:
        return found[(metric, frozenset(labels.items()))]

    assert get("mediaq_jobs", **{"class": "gpu_ai", "status": "running"}) == 1
    assert get("mediaq_queue_depth", **{"class": "gpu_ai"}) == 2
    assert get("mediaq_admission_refused", **{"class": "gpu_ai", "code": "RESOURCES_VRAM"}) == 1
    assert get("mediaq_admission_refused", **{"class": "gpu_ai", "code": "PRIORITY"}) == 1
    gpu = {"host": settings.host_name, "gpu": GPU, "index": "0", "name": "RTX 4090"}
    assert get("mediaq_gpu_vram_reserved_bytes", **gpu) == 8192 * 1024 * 1024
    assert get("mediaq_gpu_vram_foreign_bytes", **gpu) == 2048 * 1024 * 1024
    assert get("mediaq_gpu_vram_free_bytes", **gpu) == 14336 * 1024 * 1024
    assert get("mediaq_queue_head_age_seconds", **{"class": "gpu_ai"}) >= 0

    # Memory used beyond our running jobs counts as foreign, as admission counts it, and
    # the metric agrees with the dashboard.
    sql(settings, "UPDATE gpus SET used_mib = 12288, free_mib = 12288 WHERE uuid = :u", u=GPU)
    found = scrape(client)
    assert get("mediaq_gpu_vram_foreign_bytes", **gpu) == 4096 * 1024 * 1024
    feed = client.get("/api/dashboard/queue", headers=bearer(settings, "admin")).json()
    assert feed["hosts"][0]["gpus"][0]["foreignMib"] == 4096


def test_duplicate_deliveries_and_rescues_are_counted(
    client: httpx.Client, settings: Settings, redis_client: redis.Redis
) -> None:
    redis_client.delete(counters_key(settings.queue_prefix))
    job = insert_job(settings, type="noop", status="queued", resource_category="cpu")
    runtime = WorkerRuntime(settings)
    try:
        assert execute_job(runtime, job, 0).status == "completed"
        assert execute_job(runtime, job, 0).status == "dropped"  # a second delivery
        assert execute_job(runtime, job, 0).status == "dropped"
    finally:
        runtime.close()

    # A queued job nobody claimed for longer than the claim timeout is published again.
    stale = insert_job(settings, type="noop", status="queued", resource_category="cpu")
    sql(settings, "UPDATE jobs SET queued_at = now() - interval '1 hour' WHERE id = :i", i=stale)
    scheduler = Scheduler(settings)
    try:
        with scheduler.engine.connect() as conn:
            report = scheduler.run_pass(conn, refresh=True)
    finally:
        scheduler.engine.dispose()
    assert report.rescued == 1

    assert read_counters(redis_client, settings.queue_prefix) == {
        "duplicates_dropped": 2,
        "rescues": 1,
        "views_flushed": 0,
    }
    found = scrape(client)
    assert found[("mediaq_duplicate_deliveries_dropped_total", frozenset())] == 2
    assert found[("mediaq_rescues_total", frozenset())] == 1
    redis_client.delete(counters_key(settings.queue_prefix))


def test_wait_histogram_buckets_are_inclusive_and_cumulative(
    client: httpx.Client, settings: Settings
) -> None:
    # waits are counted when a job's first attempt starts (the claim's transition)
    for wait_s in (0.05, 1.0, 1.5, 7200.0, 20000.0):
        job_id = insert_job(settings, type="noop", status="queued", resource_category="cpu")
        sql(
            settings,
            "UPDATE jobs SET status = 'running', attempt = 1,"
            " created_at = now() - interval '1 day',"
            " started_at = now() - interval '1 day' + make_interval(secs => :w) WHERE id = :i",
            w=wait_s,
            i=job_id,
        )
    sql(
        settings,
        "INSERT INTO jobs (type, status, resource_category) VALUES ('noop', 'pending', 'cpu')",
    )
    found = scrape(client)

    def bucket(le: str) -> float:
        return found[("mediaq_job_wait_seconds_bucket", frozenset({("class", "cpu"), ("le", le)}))]

    assert [bucket(le) for le in ("0.1", "0.5", "1.0", "2.5", "3600.0", "14400.0", "+Inf")] == [
        1,
        1,
        2,  # exactly 1 s is within le="1.0"
        3,
        3,
        4,
        5,
    ]
    count = found[("mediaq_job_wait_seconds_count", frozenset({("class", "cpu")}))]
    total = found[("mediaq_job_wait_seconds_sum", frozenset({("class", "cpu")}))]
    assert count == 5  # the job that never started is not a wait
    assert abs(total - (0.05 + 1.0 + 1.5 + 7200.0 + 20000.0)) < 1e-3


def test_a_job_finished_a_moment_ago_is_counted_before_the_counts_are_folded(
    client: httpx.Client, settings: Settings, fleet_state: dict[str, int]
) -> None:
    # A finish is a delta row until the scheduler's periodic fold moves it into job_counts;
    # a scrape in between counts it all the same (and no longer as running).
    sql(settings, "UPDATE jobs SET status = 'completed' WHERE id = :i", i=fleet_state["running"])
    assert sql(settings, "SELECT count(*) FROM job_count_deltas").scalar_one() > 0
    found = scrape(client)

    def get(status: str) -> float:
        return found[("mediaq_jobs", frozenset({("class", "gpu_ai"), ("status", status)}))]

    assert (get("completed"), get("running")) == (1, 0)
