"""Pause and resume on the real services: paused work stays pending with ``PAUSED`` through a
scheduler failover; after resume it runs in exact priority order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.fleet import fleet, query, scalar, wait_for_workers, wait_until

PRIORITIES = [3, 9, 5, 9, 1, 7]


def _pending_codes(settings: Settings) -> set[str | None]:
    rows = query(settings, "SELECT waiting_code FROM jobs WHERE status = 'pending'")
    return {r.waiting_code for r in rows}


def test_pause_survives_failover_and_resume_runs_in_priority_order(
    settings: Settings, tmp_path: Path
) -> None:
    settings = replace(settings, concurrency=1)  # one slot: start order is admission order
    admin = {"Authorization": f"Bearer {mint_token(settings, 7, 'admin')}"}
    with (
        live_server(settings) as base,
        httpx.Client(base_url=base, timeout=30) as client,
        fleet(settings, tmp_path, schedulers=2) as (schedulers, _),
    ):
        wait_for_workers(settings, 1)
        paused = client.post("/api/queues/cpu/pause", headers=admin)
        assert paused.status_code == 200, paused.text
        assert paused.json()["pause"]["pausedBy"] == "admin 7"
        ids = []
        with transaction(settings.database_url) as session:
            for priority in PRIORITIES:
                ids.append(enqueue(session, JobSpec("noop", priority=priority)))
        wait_until(lambda: _pending_codes(settings) == {"PAUSED"}, 20, what="PAUSED reasons")
        job = client.get(f"/api/jobs/{ids[0]}", headers=admin).json()
        assert job["waitingReason"].startswith("PAUSED: class cpu paused by admin 7 at ")

        leader = next(s for s in schedulers if s.scheduler.is_leader)
        standby = next(s for s in schedulers if s is not leader)
        leader.close()
        wait_until(lambda: standby.scheduler.is_leader, 20, what="the standby to lead")
        passes = standby.scheduler.passes
        wait_until(lambda: standby.scheduler.passes >= passes + 10, 20, what="ten passes")
        assert scalar(settings, "SELECT count(*) FROM jobs WHERE status <> 'pending'") == 0
        assert _pending_codes(settings) == {"PAUSED"}

        view = client.get("/api/jobs/queue", headers=admin).json()
        assert [(p["resourceCategory"], p["type"]) for p in view["pauses"]] == [("cpu", None)]
        metrics = client.get("/metrics").text
        assert 'mediaq_queue_paused{class="cpu",type=""} 1.0' in metrics

        resumed = client.post("/api/queues/cpu/resume", headers=admin)
        assert resumed.status_code == 200 and resumed.json()["wasPaused"] is True
        wait_until(
            lambda: (
                scalar(settings, "SELECT count(*) FROM jobs WHERE status = 'completed'") == len(ids)
            ),
            60,
            what="every job to complete",
        )
    started = [r.id for r in query(settings, "SELECT id FROM jobs ORDER BY started_at, id")]
    expected = [i for _, i in sorted(zip(PRIORITIES, ids, strict=True), key=lambda p: -p[0])]
    # equal priorities keep creation order
    assert started == sorted(expected, key=lambda i: (-PRIORITIES[ids.index(i)], i))


def test_pausing_one_type_holds_only_that_type(settings: Settings, tmp_path: Path) -> None:
    admin = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with (
        live_server(settings) as base,
        httpx.Client(base_url=base, timeout=30) as client,
        fleet(settings, tmp_path),
    ):
        wait_for_workers(settings, 1)
        assert (
            client.post("/api/queues/cpu/pause", json={"type": "thumbnail"}, headers=admin)
        ).status_code == 200
        with transaction(settings.database_url) as session:
            held = enqueue(session, JobSpec("thumbnail", {"videoId": 1}))
            free = enqueue(session, JobSpec("noop"))
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=free) == "completed"
            ),
            30,
            what="the unpaused type to run",
        )
        wait_until(
            lambda: (
                scalar(settings, "SELECT waiting_code FROM jobs WHERE id = :i", i=held) == "PAUSED"
            ),
            20,
            what="the paused type to show PAUSED",
        )
        reason = scalar(settings, "SELECT waiting_reason FROM jobs WHERE id = :i", i=held)
        assert reason.startswith("PAUSED: type thumbnail in cpu paused by admin 1")


def test_pause_refuses_unknown_class_or_type_and_changes_nothing(settings: Settings) -> None:
    admin = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    user = {"Authorization": f"Bearer {mint_token(settings, 2, 'viewer')}"}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        bad_class = client.post("/api/queues/gpu_magic/pause", headers=admin)
        bad_type = client.post("/api/queues/cpu/pause", json={"type": "nope"}, headers=admin)
        not_admin = client.post("/api/queues/cpu/pause", headers=user)
        anonymous = client.post("/api/queues/cpu/pause")
    assert bad_class.status_code == 400 and "class must be one of" in bad_class.json()["error"]
    assert bad_type.status_code == 400 and "nope" in bad_type.json()["error"]
    assert (not_admin.status_code, anonymous.status_code) == (403, 401)
    assert scalar(settings, "SELECT count(*) FROM queue_pauses") == 0
