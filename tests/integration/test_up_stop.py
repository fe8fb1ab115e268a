"""Stopping ``mediaq up``: SIGTERM leaves no process behind; a job in flight is rescued on the
next start. And a clear message, not a traceback, when PostgreSQL or Redis is down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.jobcontrol import cancel_job
from mediaq.settings import Settings, settings_to_env
from tests.integration.fleet import scalar, wait_until
from tests.integration.uphelp import ROOT, UpProcess, alive


def job_row(settings: Settings, job_id: int) -> tuple[str, int]:
    row = scalar(settings, "SELECT status || ':' || attempt FROM jobs WHERE id = :i", i=job_id)
    status, attempt = str(row).split(":")
    return status, int(attempt)


def test_sigterm_ends_the_whole_tree_and_the_next_start_rescues(
    settings: Settings, tmp_path: Path
) -> None:
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec("noop", {"seconds": 120}))
    with UpProcess(settings, tmp_path / "up1.log") as up:
        up.wait_ready(75)
        wait_until(lambda: job_row(settings, job_id)[0] == "running", 40, what="job running")
        # api, scheduler, worker daemon, its Celery worker and pool children, flower + celery
        tree = wait_until(lambda: up.tree() if len(up.tree()) >= 7 else None, 20, what="tree")
        groups = {os.getpgid(pid) for pid, _ in tree}
        assert len(groups) >= 5, "children and Celery workers run in process groups of their own"
        code = up.terminate(timeout=60)
        assert code == 0, up.log()[-3000:]
        assert alive(tree) == [], f"left behind: {alive(tree)}\n{up.log()[-3000:]}"
        assert "mediaq stopped" in up.log()
    # The job was cut short mid-run; its row still says running, under attempt 1.
    assert job_row(settings, job_id) == ("running", 1)

    with UpProcess(settings, tmp_path / "up2.log") as up:
        up.wait_ready(75)
        assert "1 job(s) were running" in up.log()
        wait_until(
            lambda: job_row(settings, job_id) == ("running", 2),
            45,
            what="the job rescued and running again as attempt 2",
        )
        with transaction(settings.database_url) as session:
            cancel_job(session, job_id)  # so the second stop need not wait for it
        tree = up.tree()
        assert up.terminate(timeout=60) == 0
        assert alive(tree) == []


def test_up_says_what_it_tried_when_services_are_down(tmp_path: Path) -> None:
    down = Settings(
        database_url="postgresql://mq:hunter2@127.0.0.1:1/mediaq",
        redis_url="redis://127.0.0.1:2/0",
    )
    env = dict(os.environ) | settings_to_env(down)
    env.pop("ENABLE_MEDIA_FEATURES")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "up", "--port", "1", "--flower-port", "2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    err = done.stderr
    assert "PostgreSQL: tried postgresql://mq:***@127.0.0.1:1/mediaq (from DATABASE_URL)" in err
    assert "Redis: tried redis://127.0.0.1:2/0 (from REDIS_URL)" in err
    assert "docker compose up -d postgres redis" in err
    assert "hunter2" not in err and "Traceback" not in err
    assert time.monotonic() - started < 30
