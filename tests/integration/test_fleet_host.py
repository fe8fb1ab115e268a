"""A worker host on a network of its own joins the fleet through the documented worker
settings only, with passwords on PostgreSQL and Redis; runs a real ffmpeg job on the shared
library; is drained and removed cleanly. The same host with the wrong library refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mediaq.db import dispose_engines, engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.library import check_library
from mediaq.migrate import upgrade_to_head
from mediaq.settings import Settings
from tests.integration.fleet import SchedulerThread, wait_until
from tests.media_fixtures import make_video
from tests.netns import Netns, ScratchPostgres, ScratchRedis, netns_available, worker_host_network

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))


@pytest.fixture
def network() -> Iterator[tuple[Netns, ScratchPostgres, ScratchRedis]]:
    with worker_host_network() as found:
        yield found
    dispose_engines()


def roots(library: Path) -> dict[str, str]:
    return {
        "MEDIAQ_LIBRARY_ROOT": str(library),
        "MEDIAQ_PUBLIC_ROOT": str(library / "public"),
        "MEDIAQ_OUTPUT_ROOT": str(library / "output"),
        "MEDIAQ_THUMBNAIL_ROOT": str(library / "thumbnails"),
    }


def worker_env(
    ns: Netns, pg: ScratchPostgres, redis: ScratchRedis, host: str, library: Path
) -> dict[str, str]:
    """What docs/fleet.md's worker.env holds, and nothing else of mediaq."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": pg.url(ns.host_ip),
        "REDIS_URL": redis.url(ns.host_ip),
        "MEDIAQ_HOST": host,
        "MEDIAQ_CLASSES": "cpu",
        "MEDIAQ_CONCURRENCY": "1",
        "MEDIAQ_HEARTBEAT_INTERVAL": "0.5",
        "MEDIAQ_TASK_EVENTS": "false",
        **roots(library),
    }


def host_processes(host: str) -> list[int]:
    """Processes whose command line or environment names the host (its daemon, its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if host.encode() in blob:
            found.append(int(entry.name))
    return found


def row(settings: Settings, sql: str, **params: object) -> object:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(text(sql), params).one_or_none()


def test_a_worker_host_in_its_own_network_namespace_joins_works_and_leaves(
    network: tuple[Netns, ScratchPostgres, ScratchRedis], tmp_path: Path
) -> None:
    ns, pg, redis = network
    library = tmp_path / "library"
    central = Settings(
        database_url=pg.url("127.0.0.1"),
        redis_url=redis.url("127.0.0.1"),
        library_root=str(library),
        public_root=str(library / "public"),
        output_root=str(library / "output"),
        thumbnail_root=str(library / "thumbnails"),
        heartbeat_interval_s=0.5,
        heartbeat_timeout_s=5.0,
        host_timeout_s=3.0,
        claim_timeout_s=5.0,
        scheduler_tick_s=0.2,
        task_events=False,
    ).validated()
    upgrade_to_head(central.database_url)
    with engine_for(central.database_url).begin() as conn:
        library_id = check_library(conn, central)  # the API's first start
    host = f"gpu-ns-{uuid.uuid4().hex[:6]}"
    log = (tmp_path / "worker.log").open("wb")

    # The same host with an empty directory as its library refuses to start, and never registers.
    elsewhere = tmp_path / "not-the-library"
    elsewhere.mkdir()
    wrong = subprocess.run(
        ns.argv(sys.executable, "-m", "ops.cli", "worker"),
        env=worker_env(ns, pg, redis, host, elsewhere),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 2, wrong.stderr
    assert f"MEDIAQ_LIBRARY_ROOT={elsewhere} is not this fleet's media library" in wrong.stderr
    assert library_id in wrong.stderr
    assert pg.password not in wrong.stderr + wrong.stdout
    assert row(central, "SELECT 1 FROM worker_hosts WHERE name = :h", h=host) is None

    scheduler = SchedulerThread(central).start()
    proc = subprocess.Popen(
        ns.argv(sys.executable, "-m", "ops.cli", "worker"),
        env=worker_env(ns, pg, redis, host, library),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: row(
                central,
                "SELECT 1 FROM worker_hosts WHERE name = :h AND NOT draining"
                " AND last_seen > now() - interval '3 seconds'",
                h=host,
            ),
            90,
            0.2,
            "the namespaced host to register and heartbeat",
        )
        clip = library / "videos" / "ns-clip.mp4"
        make_video(clip, seconds=2.0)
        with transaction(central.database_url) as session:
            scan = enqueue(session, JobSpec("scan", {"root": str(clip.parent)}))

        def finished(job_id: int) -> object:
            found = row(
                central,
                "SELECT status, assigned_host, result, log FROM jobs WHERE id = :i"
                " AND status IN ('completed', 'failed')",
                i=job_id,
            )
            return found

        done = wait_until(lambda: finished(scan), 120, 0.2, "the scan")
        assert done.status == "completed", done.log  # type: ignore[attr-defined]
        video = row(central, "SELECT id FROM videos WHERE filename = 'ns-clip.mp4'")
        assert video is not None
        with transaction(central.database_url) as session:
            gif = enqueue(session, JobSpec("generate_gif", {"videoId": video.id, "duration": 1.0}))
        made = wait_until(lambda: finished(gif), 180, 0.2, "the GIF")
        assert made.status == "completed", made.log  # type: ignore[attr-defined]
        assert made.assigned_host == host  # type: ignore[attr-defined]
        output = Path(made.result["path"])  # type: ignore[attr-defined]
        if not output.is_absolute():
            output = library / output
        assert output.exists() and output.stat().st_size > 0  # on the shared library

        # Drain and remove: SIGTERM, as `docker compose stop` sends.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
        gone = row(
            central,
            "SELECT draining, last_seen > now() - interval '3 seconds' AS live"
            " FROM worker_hosts WHERE name = :h",
            h=host,
        )
        assert gone is not None and gone.draining and not gone.live  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while host_processes(host) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert host_processes(host) == []  # nothing of the host is left running
        log.flush()
        written = (tmp_path / "worker.log").read_text(errors="replace")
        assert "library " in written  # the daemon logged its start
        assert pg.password not in written and redis.password not in written
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        scheduler.close()
        log.close()
