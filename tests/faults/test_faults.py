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
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from tasks.monitor import FENCE_POLL_MAX_S, self_fence_after_s
from tests.faults.audit import check_invariants
from tests.faults.faults import FAULTS, SKEW_S, OverlapSampler, busiest_host, inject
from tests.faults.harness import FaultFleet, Host, clock_env, wait_for
from tests.faults.procs import alive, signal_all, tree
from tests.faults.scenario import SETTINGS, ready_fleet, settle, video_id
from tests.integration.apiharness import admin_headers

FENCE_BOUND_S = self_fence_after_s(SETTINGS.heartbeat_timeout_s, FENCE_POLL_MAX_S)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("iptables") and shutil.which("cc")),
    reason="network namespaces need root and iptables; the clock skew shim needs cc",
)


@pytest.fixture(scope="module")
def fleet() -> Iterator[FaultFleet]:
    with ready_fleet() as f:
        yield f


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
            enqueue(session, JobSpec("generate_gif", {"videoId": video_id(f), "duration": 2.0}))
        )
    return ids


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_alone_with_jobs_flowing(fleet: FaultFleet, fault: str) -> None:
    ids = enqueue_batch(fleet)
    host = busiest_host(fleet, ids)
    with OverlapSampler(fleet) as overlap:
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
    if fault == "clock_skew":  # liveness is judged on the database's clock: no rescue
        assert _attempts(fleet, ids) == {1}
    # the fleet is whole again for the next fault: no process gave up on its own
    assert all(h.daemon.running() for h in fleet.hosts)
    assert len(fleet.schedulers) == 2 and all(s.running() for s in fleet.schedulers)


def _attempts(f: FaultFleet, ids: list[int]) -> set[int]:
    return {r.attempt for r in f.query("SELECT attempt FROM jobs WHERE id = ANY(:ids)", ids=ids)}


def _running_on(f: FaultFleet, host: Host, ids: list[int]) -> list[int]:
    return [
        r.id
        for r in f.query(
            "SELECT id FROM jobs WHERE id = ANY(:ids) AND status = 'running'"
            " AND assigned_host = :h",
            ids=ids,
            h=host.settings.host_name,
        )
    ]


def test_a_skewed_host_is_judged_on_the_database_clock(fleet: FaultFleet) -> None:
    """A host whose wall clock is 10 minutes ahead: while it heartbeats none of its jobs is
    rescued and each completes once; paused past the heartbeat timeout it is rescued on
    time all the same, not 10 minutes late as its own clock would have it. (A clock
    behind, which would be rescued at once, is the second half of the ``clock_skew``
    fault above, whose jobs all run at attempt 1.)"""
    assert fleet.settings is not None
    host = fleet.hosts[0]
    offset_s = SKEW_S
    host.skew_clock(offset_s)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import time; print(time.time())"],
            env=dict(os.environ) | clock_env(host.clock_file),
            capture_output=True,
            text=True,
            check=True,
        )
        assert abs(float(probe.stdout) - time.time() - offset_s) < 5  # the host's clock
        healthy: list[int] = []
        for _ in range(10):  # until some ran on the skewed host (its pool may be restarting)
            with transaction(fleet.settings.database_url) as session:
                healthy += enqueue_many(session, [JobSpec("noop", {"seconds": 0.5})] * 4)
            settle(fleet, healthy)
            ran_on = {r.assigned_host for r in fleet.query(
                "SELECT assigned_host FROM jobs WHERE id = ANY(:ids)", ids=healthy)}  # fmt: skip
            if host.settings.host_name in ran_on:
                break
        assert host.settings.host_name in ran_on
        assert _attempts(fleet, healthy) == {1}
        with transaction(fleet.settings.database_url) as session:
            paused = enqueue_many(session, [JobSpec("noop", {"seconds": 3.0})] * 4)
        victims = wait_for(lambda: _running_on(fleet, host, paused), 60, "a job on the host")
        pids = tree(host.daemon.pid)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            wait_for(lambda: _attempts(fleet, victims) == {2}, 30, "the rescue")
            rescued_after = time.monotonic() - stopped
        finally:
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGCONT)
    finally:
        host.skew_clock(0)
    settle(fleet, paused)
    verdict = check_invariants(fleet.settings.database_url, healthy + paused)
    assert verdict.problems == []
    assert verdict.completed == len(healthy + paused)
    # rescued once the heartbeat is older than the timeout on the database's clock
    assert rescued_after <= fleet.settings.heartbeat_timeout_s + 2.5


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
            JobSpec("generate_gif", {"videoId": video_id(fleet), "duration": 3.0, "fps": 30}),
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
            90,
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


def _database_processes(f: FaultFleet) -> list[int]:
    assert f.pg is not None
    postmaster = int((f.pg.data / "postmaster.pid").read_text().split()[0])
    return tree(postmaster)


def test_the_api_retries_writes_on_dead_connections_and_a_stalled_database_blocks_no_other(
    fleet: FaultFleet,
) -> None:
    """Every pooled connection dies with a restart: the first write on each pool (the job
    API's, the gallery's) fails on it before its COMMIT and is sent again on a fresh one,
    so no client sees the restart after it. While the database does not answer at all (its
    processes stopped, as in a stalled restart), a job-API request waits on it in a thread
    of its own and the API goes on answering others."""
    assert fleet.settings is not None and fleet.pg is not None
    base = f"http://127.0.0.1:{fleet.settings.api_port}"
    headers = admin_headers(fleet.settings)
    job = {"type": "noop", "params": {"seconds": 0.2}}
    lock = {"ids": [987654]}  # a write on the async pool: no such item, nothing locked
    ids = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        # warm both pools: their connections exist when it restarts
        warm = client.post("/api/jobs", json=job)
        assert warm.status_code == 201, warm.text
        ids.append(warm.json()["job"]["id"])
        assert client.post("/api/admin/media/lock", json=lock).status_code == 200
        fleet.pg.restart()
        created = client.post("/api/jobs", json=job)
        assert created.status_code == 201, created.text
        ids.append(created.json()["job"]["id"])
        locked = client.post("/api/admin/media/lock", json=lock)
        assert locked.status_code == 200, locked.text
        assert locked.json()["notFound"] == lock["ids"]

        stalled = _database_processes(fleet)
        signal_all(stalled, signal.SIGSTOP)
        try:
            with (
                httpx.Client(base_url=base, headers=headers, timeout=30) as other,
                ThreadPoolExecutor(1) as pool,
            ):
                waiting = pool.submit(other.post, "/api/jobs", json=job)
                time.sleep(0.5)
                started = time.monotonic()
                alive_answer = client.get("/health")
                answered_in = time.monotonic() - started
                still_waiting = not waiting.done()
                signal_all(stalled, signal.SIGCONT)
                late = waiting.result(30)
        finally:
            signal_all(stalled, signal.SIGCONT)
    assert still_waiting  # the job request really waited on the database...
    assert alive_answer.status_code == 200 and answered_in < 1.0  # ...and blocked nothing else
    assert late.status_code == 201, late.text  # and it went through once the database did
    ids.append(late.json()["job"]["id"])
    settle(fleet, ids)
    verdict = check_invariants(fleet.settings.database_url, ids)
    assert verdict.problems == []
    assert verdict.completed == len(ids)
