"""Schedules on the real services: exactly one job per slot with two schedulers racing and a
failover mid-run; the API and the CLI add, list and delete them."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import httpx

from api_shim.auth import mint_token
from mediaq import schedules
from mediaq.db import engine_for, transaction
from mediaq.settings import Settings, settings_to_env
from tests.integration.apiharness import live_server
from tests.integration.fleet import SchedulerThread, query, scalar, wait_until

SLOTS = 20


def test_two_schedulers_enqueue_exactly_one_job_per_slot(settings: Settings) -> None:
    with transaction(settings.database_url) as session:
        spec = schedules.parse_spec({"name": "tick", "everySeconds": 1, "job": {"type": "noop"}})
        schedules.create(session, spec)
    first = schedules.Rule(every_seconds=1).after(
        scalar(settings, "SELECT created_at FROM schedules")
    )
    last = first + timedelta(seconds=SLOTS - 1)
    stop = threading.Event()

    def racer() -> None:  # a second scheduler's periodic work, run as fast as it can
        engine = engine_for(settings.database_url)
        while not stop.is_set():
            schedules.run_due(engine)

    threads = [SchedulerThread(settings).start(), SchedulerThread(settings).start()]
    race = threading.Thread(target=racer, daemon=True)
    race.start()
    try:
        wait_until(lambda: any(t.scheduler.is_leader for t in threads), 20, what="a leader")
        halfway = first + timedelta(seconds=SLOTS // 2)
        wait_until(
            lambda: (scalar(settings, "SELECT last_slot FROM schedules") or first) >= halfway,
            SLOTS + 30,
            what="half of the slots",
        )
        leader = next(t for t in threads if t.scheduler.is_leader)
        leader.close()  # failover mid-run
        wait_until(
            lambda: (scalar(settings, "SELECT last_slot FROM schedules") or first) >= last,
            SLOTS + 30,
            what="every slot",
        )
    finally:
        stop.set()
        race.join(10)
        for t in threads:
            t.close()
    runs = query(
        settings,
        "SELECT slot, job_id FROM schedule_runs WHERE slot BETWEEN :a AND :b ORDER BY slot",
        a=first,
        b=last,
    )
    assert [r.slot for r in runs] == [first + timedelta(seconds=i) for i in range(SLOTS)]
    job_ids = [r.job_id for r in runs]
    assert len(set(job_ids)) == SLOTS and None not in job_ids
    assert (
        scalar(
            settings,
            "SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND type = 'noop'",
            ids=job_ids,
        )
        == SLOTS
    )
    # nothing but slot jobs was ever enqueued: one job per recorded slot, all slots included
    assert scalar(settings, "SELECT count(*) FROM jobs") == scalar(
        settings, "SELECT count(*) FROM schedule_runs"
    )


def test_schedule_api_adds_lists_and_deletes(settings: Settings) -> None:
    admin = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    body = {
        "name": "nightly-scan",
        "cron": "0 3 * * *",
        "timezone": "Europe/Berlin",
        "job": {"type": "scan", "params": {}, "priority": 3},
    }
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        created = client.post("/api/schedules", json=body, headers=admin)
        assert created.status_code == 201, created.text
        schedule = created.json()["schedule"]
        assert schedule["cron"] == "0 3 * * *" and schedule["everySeconds"] is None
        assert schedule["nextSlot"].endswith(("01:00:00.000Z", "02:00:00.000Z"))
        again = client.post("/api/schedules", json=body, headers=admin)
        assert again.status_code == 409 and "exists" in again.json()["error"]
        bad = client.post(
            "/api/schedules", json={**body, "name": "b", "cron": "0 3 * *"}, headers=admin
        )
        assert bad.status_code == 400 and "cron" in bad.json()["error"]
        listed = client.get("/api/schedules", headers=admin).json()["schedules"]
        assert [s["name"] for s in listed] == ["nightly-scan"]
        one = client.get("/api/schedules/nightly-scan", headers=admin).json()
        assert one["runs"] == []
        assert client.delete("/api/schedules/nightly-scan", headers=admin).status_code == 200
        assert client.delete("/api/schedules/nightly-scan", headers=admin).status_code == 404
        assert client.get("/api/schedules", headers={}).status_code == 401
    assert scalar(settings, "SELECT count(*) FROM schedules") == 0


def test_schedule_cli_add_list_rm(settings: Settings) -> None:
    env = settings_to_env(settings)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.cli", "schedule", *args],
            env=env | {"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = cli("add", "nightly", "scan", "--cron", "0 3 * * *")
    assert added.returncode == 0, added.stderr
    listed = cli("list")
    assert "nightly" in listed.stdout and "0 3 * * *" in listed.stdout
    refused = cli("add", "bad", "scan", "--cron", "every night")
    assert refused.returncode == 2 and "cron" in refused.stderr
    assert cli("rm", "nightly").returncode == 0
    assert cli("rm", "nightly").returncode == 1
    assert scalar(settings, "SELECT count(*) FROM schedules") == 0
