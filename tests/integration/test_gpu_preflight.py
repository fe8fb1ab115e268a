"""The preflight on real services: memory taken by another process after admission.

The GPU's Celery worker is paused (SIGSTOP) so the job stays queued with its reservation
while a foreign process takes the memory; once the worker goes on, its preflight asks the
host daemon for a fresh sample, refuses, and the job goes back to pending with the numbers.
It runs once the memory is back.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from tests.integration.fleet import WorkerProcess, fleet, query, scalar, wait_until
from workers.nvml_fake import FakeGpuControl


def celery_worker_pid(worker: WorkerProcess, name: str) -> int:
    """The main process of the Celery worker named ``name@host`` under a daemon."""
    for pid in worker.pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"celery" in b" ".join(argv) and any(a.startswith(name.encode()) for a in argv):
            return pid
    raise AssertionError(f"no celery worker {name} under the daemon")


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def job(settings: Settings, job_id: int) -> Any:
    return query(settings, "SELECT * FROM jobs WHERE id = :i", i=job_id)[0]


def test_memory_taken_after_admission_is_refused_by_preflight_and_job_runs_once_back(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, classes=("gpu_ai",), gpu_slots=2)
    host = f"{s.host_name}-w0"
    control = FakeGpuControl(host)
    gpu = control.uuid(0)
    control.reset()
    try:
        with fleet(s, tmp_path, workers=1, worker_overrides=[{"fake_gpus": (16384,)}]) as (
            _,
            workers,
        ):
            wait_until(lambda: scalar(s, "SELECT count(*) FROM gpus") == 1, 30, what="the GPU")
            worker_pid = wait_until(
                lambda: _find(workers[0], "gpu0@"), 30, what="the GPU's celery worker"
            )
            with paused(worker_pid):
                with transaction(s.database_url) as session:
                    job_id = enqueue(
                        session,
                        JobSpec(
                            "noop",
                            {"seconds": 0.1},
                            resource_category="gpu_ai",
                            vram_required=12288,
                        ),
                    )
                wait_until(
                    lambda: (
                        scalar(s, "SELECT assigned_gpu FROM jobs WHERE id = :i", i=job_id) == gpu
                    ),
                    15,
                    what="the job admitted with its reservation",
                )
                control.allocate_foreign(gpu, 8000)
                wait_until(
                    lambda: (
                        scalar(s, "SELECT foreign_mib FROM gpus WHERE uuid = :u", u=gpu) == 8000
                    ),
                    10,
                    what="the daemon seeing the foreign memory",
                )
            # the worker goes on: its preflight must refuse
            wait_until(
                lambda: "PREFLIGHT_FAILED" in (job(s, job_id).log or ""),
                15,
                what="the preflight refusing",
            )
            refused = job(s, job_id)
            assert refused.status == "pending"
            assert refused.failures == 0
            line = next(ln for ln in refused.log.splitlines() if "PREFLIGHT_FAILED" in ln)
            assert "needs 12288 MiB" in line
            assert "8384 MiB available now" in line
            assert "8000 used by other processes" in line
            # while the memory is gone it stays pending, with a numeric reason
            wait_until(
                lambda: (
                    scalar(s, "SELECT waiting_code FROM jobs WHERE id = :i", i=job_id)
                    == "RESOURCES_VRAM"
                ),
                10,
                what="the scheduler's reason",
            )
            assert scalar(s, "SELECT status FROM jobs WHERE id = :i", i=job_id) == "pending"
            control.free_foreign(gpu)
            wait_until(
                lambda: scalar(s, "SELECT status FROM jobs WHERE id = :i", i=job_id) == "completed",
                15,
                what="the job running once the memory is back",
            )
        done = job(s, job_id)
        assert done.attempt == 2  # refused once, then ran
        assert done.failures == 0
    finally:
        control.remove()


def _find(worker: WorkerProcess, name: str) -> int | None:
    try:
        return celery_worker_pid(worker, name)
    except AssertionError:
        return None
