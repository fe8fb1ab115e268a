"""The daemon's writes and the scheduler's reads of the fleet, on the real database; the
queue view API. No worker processes: the rows are written as a daemon writes them."""

from __future__ import annotations

from dataclasses import replace

import httpx

from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from mediaq.transitions import release_gpu
from scheduler.fleet import load_capacity, load_live, load_pending
from tests.integration.apiharness import admin_headers, live_server
from tests.integration.fleet import query, scalar
from workers.gpu_backend import GpuProcess, GpuSnapshot
from workers.hostregistry import heartbeat_host, register_host


def snap(uuid: str, index: int, total: int, used: int = 0, healthy: bool = True) -> GpuSnapshot:
    procs = (GpuProcess(4242, used),) if used else ()
    return GpuSnapshot(uuid, index, "Fake", total, total - used, used, procs, healthy=healthy)


def register(settings: Settings, *snaps: GpuSnapshot) -> None:
    with engine_for(settings.database_url).begin() as conn:
        register_host(conn, settings, settings.nvenc_sessions)
        heartbeat_host(conn, settings.host_name, snaps, frozenset())


def add_job(settings: Settings, status: str, gpu: str | None, vram: int, **params: object) -> int:
    with transaction(settings.database_url) as session:
        job_id = enqueue(
            session,
            JobSpec("noop", dict(params), resource_category="gpu_ai", vram_required=vram),
        )
    with engine_for(settings.database_url).begin() as conn:
        conn.exec_driver_sql(
            "UPDATE jobs SET status = %s, assigned_gpu = %s, assigned_host = %s, "
            "started_at = CASE WHEN %s = 'running' THEN now() END, "
            "attempt = CASE WHEN %s = 'running' THEN 1 ELSE 0 END WHERE id = %s",
            (status, gpu, settings.host_name if gpu else None, status, status, job_id),
        )
    return job_id


def test_lost_and_vanished_gpus_are_excluded_but_keep_their_last_numbers(
    settings: Settings,
) -> None:
    s = replace(settings, classes=("gpu_ai",))
    register(s, snap("GPU-a", 0, 16384, used=1000), snap("GPU-b", 1, 24576))
    with engine_for(s.database_url).begin() as conn:
        heartbeat_host(conn, s.host_name, [snap("GPU-a", 0, 0, healthy=False)], frozenset())
        capacity = load_capacity(conn, s)
    # GPU-a reported lost, GPU-b no longer listed: both excluded at once
    assert {g.uuid: g.healthy for g in capacity.gpus} == {"GPU-a": False, "GPU-b": False}
    assert scalar(s, "SELECT total_mib FROM gpus WHERE uuid = 'GPU-a'") == 16384
    assert scalar(s, "SELECT foreign_mib FROM gpus WHERE uuid = 'GPU-a'") == 1000


def test_a_silent_host_s_gpus_are_offline_not_gone(settings: Settings) -> None:
    s = replace(settings, classes=("gpu_ai",), host_timeout_s=1.0)
    register(s, snap("GPU-a", 0, 81920))
    with engine_for(s.database_url).begin() as conn:
        conn.exec_driver_sql("UPDATE worker_hosts SET last_seen = now() - interval '5 s'")
        capacity = load_capacity(conn, s)
    assert capacity.gpus == ()
    assert [g.uuid for g in capacity.offline_gpus] == ["GPU-a"]


def test_ledger_carries_expected_ends_and_pending_jobs_their_expected_run_time(
    settings: Settings,
) -> None:
    register(settings, snap("GPU-a", 0, 81920))
    running = add_job(settings, "running", "GPU-a", 8000, seconds=30)
    waiting = add_job(settings, "pending", None, 8000, expectedSeconds=12, usesEncoder=True)
    with engine_for(settings.database_url).begin() as conn:
        live = {j.id: j for j in load_live(conn)}
        pending = load_pending(conn, "gpu_ai", 10, eligible_only=True)
    job = live[running]
    assert job.vram_mib == 8000 and job.expected_end is not None and job.started_at is not None
    assert abs((job.expected_end - job.started_at).total_seconds() - 30) < 1
    assert [(p.id, p.expected_s, p.uses_encoder) for p in pending] == [(waiting, 12.0, False)]


def test_lost_gpu_jobs_go_back_queued_ones_free_running_ones_as_a_failed_attempt(
    settings: Settings,
) -> None:
    register(settings, snap("GPU-a", 0, 81920), snap("GPU-b", 1, 81920))
    queued = add_job(settings, "queued", "GPU-a", 1000)
    running = add_job(settings, "running", "GPU-a", 1000)
    last_try = add_job(settings, "running", "GPU-a", 1000)
    elsewhere = add_job(settings, "running", "GPU-b", 1000)
    with engine_for(settings.database_url).begin() as conn:
        conn.exec_driver_sql(f"UPDATE jobs SET failures = max_attempts - 1 WHERE id = {last_try}")
        released = release_gpu(conn, settings.host_name, "GPU-a", 10_000)
    assert sorted(released) == sorted([queued, running, last_try])
    rows = {
        r.id: r for r in query(settings, "SELECT id, status, failures, assigned_gpu, log FROM jobs")
    }
    assert (rows[queued].status, rows[queued].failures) == ("pending", 0)
    assert (rows[running].status, rows[running].failures) == ("pending", 1)
    assert rows[last_try].status == "failed" and "giving up" in rows[last_try].log
    assert rows[elsewhere].status == "running" and rows[elsewhere].assigned_gpu == "GPU-b"
    assert all(rows[i].assigned_gpu is None for i in released)


def test_queue_view_shows_every_gpu_with_its_ledger(settings: Settings) -> None:
    register(settings, snap("GPU-a", 0, 16384, used=2048), snap("GPU-b", 1, 24576))
    add_job(settings, "running", "GPU-a", 4096)
    add_job(settings, "queued", "GPU-a", 2000)
    with engine_for(settings.database_url).begin() as conn:
        conn.exec_driver_sql(
            "UPDATE jobs SET status = 'pending', assigned_gpu = NULL, assigned_host = NULL, "
            "waiting_code = 'NEVER_FITS', waiting_reason = 'NEVER_FITS: needs 99999 MiB' "
            "WHERE id = (SELECT max(id) FROM jobs)"
        )
    add_job(settings, "queued", "GPU-a", 2000)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        view = client.get("/api/jobs/queue", headers=admin_headers(settings)).json()
    assert view["classes"]["gpu_ai"] == {"pending": 1, "queued": 1, "running": 1}
    assert view["waiting"]["gpu_ai"] == {"NEVER_FITS": 1}
    (host,) = view["hosts"]
    assert host["name"] == settings.host_name and host["live"] is True and host["lastSeen"]
    a, b = host["gpus"]
    assert {k: a[k] for k in ("uuid", "index", "totalMib", "freeMib", "reservedMib")} == {
        "uuid": "GPU-a",
        "index": 0,
        "totalMib": 16384,
        "freeMib": 14336,
        "reservedMib": 6096,
    }
    assert (a["foreignMib"], a["encoderSessions"], a["reservedJobs"]) == (2048, 0, 2)
    assert a["availableMib"] == 16384 - 6096 - 2048 - settings.vram_margin_mib
    assert (b["uuid"], b["reservedMib"], b["availableMib"]) == ("GPU-b", 0, 24576 - 512)
