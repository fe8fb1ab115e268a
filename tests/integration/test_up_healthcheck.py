"""The containers' health checks (``python -m ops.healthcheck ROLE``) against real services."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.settings import Settings, settings_to_env
from ops.healthcheck import check_api, check_migrate, check_scheduler, check_worker, main
from tests.integration.apiharness import live_server
from tests.integration.fleet import SchedulerThread, wait_until
from tests.integration.uphelp import ROOT


def test_scheduler_is_healthy_only_while_some_scheduler_leads(settings: Settings) -> None:
    assert check_scheduler(settings) is False
    scheduler = SchedulerThread(settings).start()
    try:
        wait_until(lambda: scheduler.scheduler.is_leader, 20, what="a leader")
        assert check_scheduler(settings) is True
    finally:
        scheduler.close()
    wait_until(lambda: check_scheduler(settings) is False, 10, what="the lock released")


def test_worker_is_healthy_while_its_heartbeat_is_fresh(settings: Settings) -> None:
    assert check_worker(settings) is False  # never registered
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            text("INSERT INTO worker_hosts (name, last_seen) VALUES (:h, now())"),
            {"h": settings.host_name},
        )
    assert check_worker(settings) is True
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(
            text("UPDATE worker_hosts SET last_seen = now() - interval '1 hour' WHERE name = :h"),
            {"h": settings.host_name},
        )
    assert check_worker(settings) is False


def test_api_and_migrate_checks(settings: Settings) -> None:
    assert check_migrate(settings) is True
    with live_server(settings) as base:
        port = int(base.rsplit(":", 1)[1])
        assert check_api(Settings(api_port=port)) is True
    assert main(["no-such-role"]) == 2


def test_the_module_exits_non_zero_when_unhealthy(settings: Settings) -> None:
    env = settings_to_env(settings) | {"DATABASE_URL": "postgresql://x@127.0.0.1:1/none"}
    done = subprocess.run(
        [sys.executable, "-m", "ops.healthcheck", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "worker: unhealthy: database unreachable" in done.stderr  # names what is down
