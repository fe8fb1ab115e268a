"""Each fault alone, with jobs flowing (noop and a real ffmpeg job), on a fleet whose worker
hosts live in network namespaces and whose PostgreSQL and Redis are the harness's own.

After every fault: every job terminal, none completed twice, no status change by a
superseded attempt, no reservation left, no orphan process, and no two attempts of one job
running processes at once for longer than the self-fencing bound.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.settings import Settings
from tasks.monitor import FENCE_POLL_MAX_S, self_fence_after_s
from tests.conftest import TEST_SECRET
from tests.faults.audit import check_invariants, install_audit
from tests.faults.faults import FAULTS, OverlapSampler, busiest_host, inject
from tests.faults.harness import FaultFleet, fault_fleet, wait_for
from tests.faults.procs import alive, tree
from tests.integration.apiharness import admin_headers
from tests.media_fixtures import make_video

BASE = Settings(
    jwt_secret=TEST_SECRET,
    enable_media_features=True,
    queue_prefix="mqfaults",
    concurrency=2,
    heartbeat_interval_s=0.5,
    heartbeat_timeout_s=3.0,
    claim_timeout_s=5.0,
    host_timeout_s=3.0,
    scheduler_tick_s=0.2,
    cancel_poll_s=0.2,
    task_events=False,
    fake_gpus=(16384,),  # each host has a (fake) GPU: GPU reservations must not leak either
    gpu_slots=2,
)
FENCE_BOUND_S = self_fence_after_s(BASE.heartbeat_timeout_s, FENCE_POLL_MAX_S)
SETTLE_S = 90

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("iptables") is None,
    reason="network namespaces need root and iptables",
)


@pytest.fixture(scope="module")
def fleet() -> Iterator[FaultFleet]:
    with fault_fleet(BASE) as f:
        assert f.settings is not None
        make_video(Path(f.settings.library_root) / "clip.mp4", 2)
        wait_for(
            lambda: (
                f.scalar(
                    "SELECT count(*) FROM worker_hosts WHERE last_seen > now() - interval '3 s'"
                )
                == len(f.hosts)
            ),
            90,
            "both hosts registered",
        )
        with transaction(f.settings.database_url) as session:
            scan = enqueue(session, JobSpec("scan", {}))
        wait_for(lambda: _status(f, scan) == "completed", 90, "the library scanned")
        install_audit(f.settings.database_url)
        yield f


def _status(f: FaultFleet, job_id: int) -> str:
    return str(f.scalar("SELECT status FROM jobs WHERE id = :i", i=job_id))


def _video(f: FaultFleet) -> int:
    return int(f.scalar("SELECT min(id) FROM videos"))


def enqueue_batch(f: FaultFleet, noops: int = 5) -> list[int]:
    """Short noop jobs (one of them on a GPU, reserving VRAM) and one real ffmpeg job (a GIF
    of the test clip)."""
    assert f.settings is not None
    gpu = JobSpec("noop", {"seconds": 1.0}, resource_category="gpu_ai", vram_required=2048)
    with transaction(f.settings.database_url) as session:
        ids = enqueue_many(
            session, [gpu, *(JobSpec("noop", {"seconds": 1.0}) for _ in range(noops - 1))]
        )
        ids.append(
            enqueue(session, JobSpec("generate_gif", {"videoId": _video(f), "duration": 2.0}))
        )
    return ids


def settle(f: FaultFleet, ids: list[int]) -> None:
    wait_for(
        lambda: (
            f.scalar(
                "SELECT count(*) FROM jobs WHERE id = ANY(:ids)"
                " AND status IN ('completed', 'failed', 'cancelled')",
                ids=ids,
            )
            == len(ids)
        ),
        SETTLE_S,
        "every job terminal",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_alone_with_jobs_flowing(fleet: FaultFleet, fault: str) -> None:
    ids = enqueue_batch(fleet)
    host = busiest_host(fleet, ids)
    with OverlapSampler() as overlap:
        inject(fleet, fault, host)
        settle(fleet, ids)
    assert fleet.settings is not None
    verdict = check_invariants(fleet.settings.database_url, ids)
    assert verdict.problems == []
    assert verdict.completed == len(ids), fleet.query(
        "SELECT id, status, last_error FROM jobs WHERE id = ANY(:ids) AND status <> 'completed'",
        ids=ids,
    )
    assert fleet.orphans() == []
    assert overlap.longest_s <= FENCE_BOUND_S
    # the fleet is whole again for the next fault: no process gave up on its own
    assert all(h.daemon.running() for h in fleet.hosts)
    assert len(fleet.schedulers) == 2 and all(s.running() for s in fleet.schedulers)


def test_paused_worker_is_rescued_and_its_thawed_zombie_changes_nothing(
    fleet: FaultFleet,
) -> None:
    """SIGSTOP a host running the GIF past the heartbeat timeout: the job is rescued and
    finishes on the other host; on SIGCONT the old attempt stops itself within the fence
    bound and what it writes changes nothing."""
    assert fleet.settings is not None
    with transaction(fleet.settings.database_url) as session:
        gif = enqueue(
            session,
            JobSpec("generate_gif", {"videoId": _video(fleet), "duration": 3.0, "fps": 30}),
        )
    host = busiest_host(fleet, [gif])
    pids = tree(host.daemon.pid)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: fleet.scalar(
                "SELECT attempt > 1 AND status = 'completed' FROM jobs WHERE id = :i", i=gif
            ),
            SETTLE_S,
            "the GIF rescued and finished elsewhere",
        )
        winner = fleet.query(
            "SELECT attempt, assigned_host, result FROM jobs WHERE id = :i", i=gif
        )[0]
        assert winner.assigned_host != host.settings.host_name
        output = Path(winner.result["path"])
        before = (output.stat().st_mtime_ns, output.read_bytes())
    finally:
        thawed = time.monotonic()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGCONT)
    # the zombie's ffmpeg (it writes ``.a1.part``) is gone within the fence bound
    wait_for(
        lambda: (
            not any(
                b".a1.part" in Path(f"/proc/{p}/cmdline").read_bytes()
                for p in tree(host.daemon.pid)
                if alive(p)
            )
        ),
        FENCE_BOUND_S + 2,
        "the zombie attempt stopped",
    )
    stopped_after = time.monotonic() - thawed
    time.sleep(2)  # whatever it still tries to write, give it the time to
    final = fleet.query("SELECT status, attempt, result FROM jobs WHERE id = :i", i=gif)[0]
    assert (final.status, final.attempt, final.result) == (
        "completed",
        winner.attempt,
        winner.result,
    )
    assert (output.stat().st_mtime_ns, output.read_bytes()) == before
    assert not list(output.parent.glob(".*.part*"))
    verdict = check_invariants(fleet.settings.database_url, [gif])
    assert verdict.problems == []
    assert stopped_after <= FENCE_BOUND_S + 1


def test_postgres_restart_api_answers_503_then_recovers_and_the_fleet_goes_on(
    fleet: FaultFleet,
) -> None:
    assert fleet.settings is not None and fleet.pg is not None
    base = f"http://127.0.0.1:{fleet.settings.api_port}"
    headers = admin_headers(fleet.settings)
    ids = enqueue_batch(fleet, noops=10)
    body = {"type": "noop", "params": {"seconds": 0.5}}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        wait_for(lambda: client.get("/api/videos/health").status_code == 200, 60, "API up")
        fleet.pg.stop()
        try:
            down = client.post("/api/jobs", json=body)
            health = client.get("/api/videos/health")
        finally:
            fleet.pg.start()
        assert down.status_code == 503
        assert "database" in down.json()["error"]
        assert "Traceback" not in down.text
        assert health.status_code == 503
        assert health.json()["database"] == "down" and health.json()["redis"] == "ok"
        # recovers by itself: the first requests may meet the pool's dead connections
        created = wait_for(
            lambda: (r := client.post("/api/jobs", json=body)).status_code == 201 and r,
            30,
            "the API creating jobs again",
        )
        ids.append(created.json()["job"]["id"])
        assert client.get("/api/videos/health").json() == {
            "status": "ok",
            "database": "ok",
            "redis": "ok",
        }
    settle(fleet, ids)
    verdict = check_invariants(fleet.settings.database_url, ids)
    assert verdict.problems == []
    assert verdict.completed == len(ids)
    assert all(s.running() for s in fleet.schedulers)
    assert all(h.daemon.running() for h in fleet.hosts)
