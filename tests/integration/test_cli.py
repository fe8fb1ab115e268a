"""The operator's command line on the real database: cancel, retry, jobs, videos, enqueue,
and the exit codes scripts rely on."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.settings import Settings, settings_to_env
from ops.exitcodes import CONFLICT, FAILED, NOT_FOUND, OK, UNAVAILABLE, USAGE
from tests.integration.fleet import scalar
from tests.integration.uphelp import ROOT


def mediaq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=dict(os.environ) | settings_to_env(settings) | {"COLUMNS": "250"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def execute(settings: Settings, sql: str, **params: object) -> None:
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(text(sql), params)


def status_of(settings: Settings, job_id: int) -> str:
    return str(scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id))


def test_cancel_and_retry_many_ids_with_exit_codes(settings: Settings) -> None:
    a, b = (int(mediaq(settings, "enqueue", "noop").stdout) for _ in range(2))
    out = mediaq(settings, "cancel", str(a), str(b))
    assert out.returncode == OK, out.stderr
    assert out.stdout.splitlines() == [f"job {a}: cancelled", f"job {b}: cancelled"]
    assert status_of(settings, a) == status_of(settings, b) == "cancelled"

    again = mediaq(settings, "cancel", str(a))
    assert again.returncode == CONFLICT
    assert f"job {a}: cannot cancel job {a}: it is already cancelled" in again.stderr

    missing = mediaq(settings, "cancel", "999999", str(a))
    assert missing.returncode == NOT_FOUND  # the worst outcome wins
    assert "job 999999: not found" in missing.stderr

    retried = mediaq(settings, "retry", str(a))
    assert retried.returncode == OK and retried.stdout.strip() == f"job {a}: pending again"
    assert status_of(settings, a) == "pending"
    assert mediaq(settings, "retry", str(a)).returncode == CONFLICT  # pending: nothing to retry


def test_jobs_shows_the_error_of_a_failed_job_and_the_outputs_of_a_completed_one(
    settings: Settings,
) -> None:
    failed = int(mediaq(settings, "enqueue", "noop").stdout)
    done = int(mediaq(settings, "enqueue", "noop").stdout)
    execute(
        settings,
        "UPDATE jobs SET status = 'failed', last_error = 'ffmpeg exited 1: moov atom not found',"
        " completed_at = now() WHERE id = :i",
        i=failed,
    )
    execute(
        settings,
        "UPDATE jobs SET status = 'completed', completed_at = now(), progress = 100,"
        ' result = \'{"path": "/lib/output/gif/a-v1-j2.gif", "thumbnailPath": "/t/a.jpg"}\''
        " WHERE id = :i",
        i=done,
    )
    out = mediaq(settings, "jobs")
    assert out.returncode == OK, out.stderr
    row = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if "│" in line}
    assert "ffmpeg exited 1: moov atom not found" in row[str(failed)]
    assert "/lib/output/gif/a-v1-j2.gif /t/a.jpg" in row[str(done)]

    follow = mediaq(settings, "jobs", str(failed))
    assert follow.returncode == FAILED
    assert "error: ffmpeg exited 1: moov atom not found" in follow.stdout
    follow = mediaq(settings, "jobs", str(done))
    assert follow.returncode == OK
    assert "output: /lib/output/gif/a-v1-j2.gif" in follow.stdout
    assert mediaq(settings, "jobs", "999999").returncode == NOT_FOUND


def test_videos_by_search_and_directory_type(settings: Settings) -> None:
    execute(
        settings,
        "INSERT INTO videos (path, filename, directory_type, duration_seconds, width, height)"
        " VALUES ('/lib/videos/beach_day.mp4', 'beach_day.mp4', 'videos', 12, 1920, 1080),"
        "        ('/lib/gifs/beach.gif', 'beach.gif', 'gifs', 3, 320, 240),"
        "        ('/lib/videos/city.mp4', 'city.mp4', 'videos', 60, 1280, 720)",
    )
    out = mediaq(settings, "videos", "--search", "beach")
    assert out.returncode == OK, out.stderr
    assert "beach_day.mp4" in out.stdout and "beach.gif" in out.stdout
    assert "city.mp4" not in out.stdout and "2 video(s)" in out.stdout
    out = mediaq(settings, "videos", "--search", "beach", "--type", "videos")
    assert "beach_day.mp4" in out.stdout and "beach.gif" not in out.stdout
    assert "1920x1080" in out.stdout
    assert mediaq(settings, "videos", "--search", "_").stdout.strip().endswith("1 video(s)")
    assert mediaq(settings, "videos", "--type", "nonsense").returncode == USAGE


def test_enqueue_help_lists_every_type_and_bad_input_changes_nothing(settings: Settings) -> None:
    from mediaq.jobtypes import JOB_TYPES

    out = mediaq(settings, "enqueue", "--help")
    assert out.returncode == OK
    for name, t in JOB_TYPES.items():
        assert f"  {name}: {t.resource_category}," in out.stdout
    bad = mediaq(settings, "enqueue", "no_such_type")
    assert bad.returncode == USAGE and "unknown job type 'no_such_type'" in bad.stderr
    bad = mediaq(settings, "enqueue", "noop", "--param", "novalue")
    assert bad.returncode == USAGE and "--param expects key=value" in bad.stderr
    assert scalar(settings, "SELECT count(*) FROM jobs") == 0
    gone = mediaq(settings, "jobs", "--database-url", "postgresql://u:pw-123@127.0.0.1:1/x")
    assert gone.returncode == UNAVAILABLE
    assert "PostgreSQL at postgresql://u:***@127.0.0.1:1/x (DATABASE_URL) did not answer" in (
        gone.stderr
    )
    assert "pw-123" not in gone.stderr + gone.stdout
