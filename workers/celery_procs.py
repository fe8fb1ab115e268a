"""Starting and supervising the Celery worker processes of one host.

One CPU worker consuming the shared CPU queue, and one worker per GPU consuming that GPU's
own queue, started with ``CUDA_VISIBLE_DEVICES=GPU-<uuid>`` so the scheduler's choice of GPU
is the GPU the job runs on. Nothing here touches NVML or CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace

from mediaq.proctree import descendants_of, with_parent_death_signal
from mediaq.queues import cpu_queue, gpu_queue
from mediaq.settings import Settings, settings_to_env

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = 2.0


@dataclass
class WorkerSpec:
    """One Celery worker process to keep running."""

    name: str
    queue: str
    concurrency: int
    env: dict[str, str]
    gpu_uuid: str | None = None  # the GPU this worker serves (None: the CPU worker)


@dataclass
class SupervisedWorker:
    spec: WorkerSpec
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)
    suspended: bool = False  # its GPU is lost: not restarted until the GPU is back


def worker_specs(settings: Settings, gpu_uuids: list[tuple[int, str]]) -> list[WorkerSpec]:
    """The Celery workers this host runs for its classes and GPUs."""
    # The workers know their daemon: they end themselves when it is gone (mediaq/lifeline).
    own = replace(settings, daemon_pid=os.getpid())
    specs: list[WorkerSpec] = []
    if "cpu" in settings.classes and settings.concurrency > 0:
        env = settings_to_env(replace(own, worker_gpu="")) | {"CUDA_VISIBLE_DEVICES": ""}
        specs.append(
            WorkerSpec(
                f"cpu@{settings.host_name}",
                cpu_queue(settings.queue_prefix),
                settings.concurrency,
                env,
            )
        )
    if any(c.startswith("gpu_") for c in settings.classes):
        for index, uuid in gpu_uuids:
            visible = uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
            env = settings_to_env(replace(own, worker_gpu=uuid)) | {
                "CUDA_VISIBLE_DEVICES": visible,
                "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            }
            specs.append(
                WorkerSpec(
                    f"gpu{index}@{settings.host_name}",
                    gpu_queue(settings.queue_prefix, uuid),
                    settings.gpu_slots,
                    env,
                    gpu_uuid=uuid,
                )
            )
    return specs


def celery_argv(spec: WorkerSpec) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "--quiet",  # no start-up banner: the logs stay one JSON object per line when asked
        "-A",
        "tasks.worker_entry",
        "worker",
        "-Q",
        spec.queue,
        "-c",
        str(spec.concurrency),
        "-n",
        spec.name,
        "-P",
        "prefork",
        "--prefetch-multiplier",
        "1",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]


class WorkerSupervisor:
    """Keeps the host's Celery workers running; restarts one that dies."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        self.workers = [SupervisedWorker(spec) for spec in specs]

    def start(self, suspended: frozenset[str] = frozenset()) -> None:
        """Start every worker, except those of the GPUs in ``suspended`` (lost at start)."""
        for worker in self.workers:
            if worker.spec.gpu_uuid in suspended:
                worker.suspended = True
            else:
                self._spawn(worker)

    def suspend(self, gpu_uuid: str) -> bool:
        """The GPU is lost: kill its worker and everything below it at once.

        A job on a lost GPU cannot go on, and its work is about to be placed elsewhere:
        nothing of it may keep running (ffmpeg runs in a group of its own, so every
        descendant is killed, not only the worker's group). True if it was running.
        """
        for worker in self.workers:
            if worker.spec.gpu_uuid != gpu_uuid or worker.suspended:
                continue
            worker.suspended = True
            if worker.proc is None or worker.proc.poll() is not None:
                return False
            doomed = descendants_of(worker.proc.pid)
            _signal_group(worker.proc.pid, signal.SIGKILL)
            for pid in doomed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            worker.proc.wait()
            log.warning("GPU %s lost: its celery worker %s killed", gpu_uuid, worker.spec.name)
            return True
        return False

    def resume(self, gpu_uuid: str) -> bool:
        """The GPU is back: start its worker again. True if it was suspended."""
        for worker in self.workers:
            if worker.spec.gpu_uuid == gpu_uuid and worker.suspended:
                worker.suspended = False
                self._spawn(worker)
                log.warning("GPU %s back: celery worker %s started", gpu_uuid, worker.spec.name)
                return True
        return False

    def gpu_uuids(self) -> list[str]:
        return [w.spec.gpu_uuid for w in self.workers if w.spec.gpu_uuid]

    def is_suspended(self, gpu_uuid: str) -> bool:
        return any(w.suspended for w in self.workers if w.spec.gpu_uuid == gpu_uuid)

    def check(self) -> None:
        """Restart any worker that exited (after a short backoff)."""
        for worker in self.workers:
            if worker.suspended:
                continue
            if worker.proc is not None and worker.proc.poll() is not None:
                if time.monotonic() - worker.started_at < RESTART_BACKOFF_S:
                    continue
                log.warning(
                    "celery worker %s exited (%s); restarting",
                    worker.spec.name,
                    worker.proc.returncode,
                )
                worker.restarts += 1
                self._spawn(worker)

    def pids(self) -> frozenset[int]:
        """Our processes: the workers, their pool children and whatever those started (a
        job's ffmpeg holds GPU memory too), for foreign-memory accounting."""
        pids: set[int] = set()
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                pids.add(worker.proc.pid)
                pids.update(descendants_of(worker.proc.pid))
        return frozenset(pids)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Warm shutdown, then SIGKILL for whatever still runs after ``timeout_s``.

        SIGTERM goes to each Celery main process only: it stops taking messages and lets
        its pool children finish the jobs they run. A job longer than the timeout is
        killed with the whole group; its heartbeat stops and the scheduler retries it.
        """
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            if worker.proc is None:
                continue
            try:
                worker.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait()
            # pool children that outlived their main process are ended with the group
            _signal_group(worker.proc.pid, signal.SIGKILL)

    @staticmethod
    def _spawn(worker: SupervisedWorker) -> None:
        env = dict(os.environ) | worker.spec.env
        # Killed by the kernel when the daemon dies, however it dies (mediaq/lifeline).
        argv = with_parent_death_signal(celery_argv(worker.spec))
        worker.proc = subprocess.Popen(argv, env=env, start_new_session=True)
        worker.started_at = time.monotonic()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
