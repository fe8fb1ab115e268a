"""``mediaq doctor`` on this machine: no GPU, a real libx264 encode, the real services and
library, and a clear non-zero answer when PostgreSQL does not answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mediaq.db import engine_for
from mediaq.library import check_library
from mediaq.settings import Settings, settings_to_env
from tests.integration.uphelp import free_port

ROOT = Path(__file__).resolve().parents[2]


def doctor(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ) | settings_to_env(settings) | env
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "doctor", *args],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def lines(out: str) -> dict[str, str]:
    """The first line of each check, by check name: {"PostgreSQL": "ok ..."}."""
    found: dict[str, str] = {}
    for line in out.splitlines():
        if line[:1].strip():
            status, name = line[:8].strip(), line[9:31].strip()
            found[name] = f"{status} {line[32:]}"
    return found


def test_doctor_on_a_host_without_a_gpu_reports_what_it_has(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        library_id = check_library(conn, settings)  # as the API's first start does
    out = doctor(settings)
    assert out.returncode == 0, out.stdout + out.stderr
    got = lines(out.stdout)
    assert got["gpu"].startswith("note no NVIDIA GPU"), got
    assert got["encode libx264"].startswith("ok 1 s of 1280x720@30"), got
    assert got["ffmpeg"].startswith("ok ")
    assert got["PostgreSQL"].startswith("ok postgresql://")
    assert got["schema"].startswith("ok at the newest revision")
    assert got["clock"].startswith("ok ")
    assert got["Redis"].startswith("ok redis://")
    assert got["library roots"].startswith("ok readable and writable")
    assert got["library id"] == f"ok {settings.library_root} holds the fleet's library {library_id}"
    assert got["summary"] == "ok this host is ready"


def test_doctor_says_which_library_is_wrong(settings: Settings, tmp_path: Path) -> None:
    with engine_for(settings.database_url).begin() as conn:
        check_library(conn, settings)
    other = tmp_path / "elsewhere"
    for sub in ("", "public", "output", "thumbnails"):
        (other / sub).mkdir(parents=True, exist_ok=True)
    out = doctor(
        settings,
        "--no-gpu",
        MEDIAQ_LIBRARY_ROOT=str(other),
        MEDIAQ_PUBLIC_ROOT=str(other / "public"),
        MEDIAQ_OUTPUT_ROOT=str(other / "output"),
        MEDIAQ_THUMBNAIL_ROOT=str(other / "thumbnails"),
    )
    assert out.returncode == 1
    assert lines(out.stdout)["library id"].startswith(
        f"problem MEDIAQ_LIBRARY_ROOT={other} is not this fleet's media library"
    )


def test_doctor_exits_non_zero_with_a_clear_line_when_postgresql_is_unreachable(
    settings: Settings,
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://mediaq:s3cret-pw@127.0.0.1:{port}/mediaq"
    out = doctor(settings, "--no-gpu", DATABASE_URL=url)
    assert out.returncode == 1
    got = lines(out.stdout)
    assert got["PostgreSQL"].startswith(
        f"problem cannot connect to postgresql://mediaq:***@127.0.0.1:{port}/mediaq (DATABASE_URL)"
    )
    assert "start PostgreSQL, or fix DATABASE_URL" in out.stdout
    assert got["Redis"].startswith("ok ")  # the rest is still checked
    assert got["summary"].startswith("problem ")
    assert "s3cret-pw" not in out.stdout + out.stderr
