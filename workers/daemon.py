"""``mediaq worker``: the host daemon.

Detects the host's GPUs (one NVML session, opened here and only here), registers the host
and its GPUs, serves fresh GPU samples to its workers' preflight checks, starts the Celery
worker processes (a CPU worker and one per GPU, each with ``CUDA_VISIBLE_DEVICES`` set to
its GPU's UUID), and heartbeats GPU snapshots every ``heartbeat_interval_s``.

- It first checks that its library roots hold the fleet's library (``mediaq.library``) and
  are writable; otherwise it refuses to start, naming the setting to fix.
- A host that stops heartbeating gets no new work; on a clean stop it says so at once.
- Its Celery workers never outlive it: they die with it, and end themselves when it stays
  frozen for longer than the heartbeat timeout (``mediaq/lifeline``).
- The database may be away (restarted, unreachable): registering waits for it with
  backoff, and a beat that cannot reach it is skipped; nothing exits.
- A GPU NVML reports lost is marked unhealthy in the same heartbeat (the scheduler excludes
  it at once), its Celery worker is killed and its jobs go back to be placed elsewhere.
  When the GPU comes back, its worker starts again.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from mediaq import transitions
from mediaq.db import engine_for
from mediaq.hostpaths import daemon_alive_file, preflight_socket
from mediaq.library import check_library
from mediaq.lifeline import remove_stale_alive_files, touch
from mediaq.settings import Settings
from workers.celery_procs import WorkerSupervisor, worker_specs
from workers.gpu_backend import GpuBackend, GpuSnapshot, open_backend
from workers.hostregistry import heartbeat_host, mark_draining, mark_gone, register_host
from workers.preflight_service import PreflightService

log = logging.getLogger(__name__)

ALIVE_INTERVAL_S = 0.5


class HostDaemon:
    def __init__(self, settings: Settings, backend: GpuBackend | None = None) -> None:
        self.settings = settings
        self.backend = backend or open_backend(settings.fake_gpus, settings.host_name)
        self.engine: Engine = engine_for(settings.database_url)
        self.supervisor: WorkerSupervisor | None = None
        self.preflight = PreflightService(preflight_socket(settings.host_name), self.sample)
        self.alive = daemon_alive_file(settings.host_name, os.getpid())
        self._alive_stop = threading.Event()

    @property
    def serves_gpus(self) -> bool:
        return any(c.startswith("gpu_") for c in self.settings.classes)

    def start(self, stop: threading.Event | None = None) -> bool:
        """Check the library, register the host (waiting for the database while it is away)
        and start the Celery workers. False when ``stop`` was set before the database
        answered."""
        snaps = self.backend.snapshot() if self.serves_gpus else []
        lost = frozenset(s.uuid for s in snaps if not s.healthy)
        delay = self.settings.heartbeat_interval_s
        while True:
            try:
                with self.engine.begin() as conn:
                    # Refuses (LibraryMismatch) before registering: a host that mounted the
                    # wrong storage, or cannot write its results, must never take a job.
                    library_id = check_library(conn, self.settings)
                    register_host(conn, self.settings, self.settings.nvenc_sessions)
                    heartbeat_host(conn, self.settings.host_name, snaps, frozenset())
                break
            except SQLAlchemyError as exc:
                log.warning("cannot register host (database unreachable?): %s", exc)
                if stop is None or stop.wait(delay):
                    if stop is None:
                        raise
                    return False
                delay = min(delay * 2, 30.0)
        log.info("library %s at %s", library_id, self.settings.library_root)
        self._keep_alive()
        self.supervisor = WorkerSupervisor(
            worker_specs(self.settings, [(s.index, s.uuid) for s in snaps])
        )
        if snaps:
            self.preflight.start()
        self.supervisor.start(suspended=lost)
        for uuid in lost:
            self._release(uuid)
        log.info(
            "worker host %s: %d GPU(s) (%d lost), classes %s, %d celery worker(s)",
            self.settings.host_name,
            len(snaps),
            len(lost),
            ",".join(self.settings.classes),
            len(self.supervisor.workers),
        )
        return True

    def beat(self) -> None:
        """One heartbeat: fresh GPU numbers, lost GPUs handled, dead workers restarted."""
        assert self.supervisor is not None
        self.supervisor.check()
        snaps = self.backend.snapshot() if self.serves_gpus else []
        with self.engine.begin() as conn:
            heartbeat_host(conn, self.settings.host_name, snaps, self.supervisor.pids())
        self._follow_gpu_health(snaps)

    def _follow_gpu_health(self, snaps: list[GpuSnapshot]) -> None:
        # After the heartbeat marked the GPU unhealthy, so the jobs released here cannot be
        # placed on it again.
        assert self.supervisor is not None
        healthy = {s.uuid for s in snaps if s.healthy}
        for uuid in self.supervisor.gpu_uuids():
            if uuid not in healthy:
                if not self.supervisor.is_suspended(uuid):
                    self.supervisor.suspend(uuid)
                    self._release(uuid)
            elif self.supervisor.resume(uuid):
                log.warning("GPU %s is back on host %s", uuid, self.settings.host_name)

    def _release(self, uuid: str) -> None:
        with self.engine.begin() as conn:
            released = transitions.release_gpu(
                conn, self.settings.host_name, uuid, self.settings.log_max_chars
            )
        if released:
            log.warning("GPU %s lost: jobs %s placed again", uuid, released)

    def sample(self, uuid: str) -> dict[str, Any] | None:
        """A fresh sample of one of this host's GPUs, for a worker's preflight."""
        snap = self.backend.sample(uuid)
        if snap is None:
            return None
        ours = self.supervisor.pids() if self.supervisor is not None else frozenset()
        return {
            "uuid": snap.uuid,
            "host": self.settings.host_name,
            "totalMib": snap.total_mib,
            "freeMib": snap.free_mib,
            "usedMib": snap.used_mib,
            "foreignMib": snap.foreign_mib(ours),
        }

    def run(self, stop: threading.Event) -> None:
        try:
            if not self.start(stop):
                return
            while not stop.wait(self.settings.heartbeat_interval_s):
                try:
                    self.beat()
                except SQLAlchemyError as exc:
                    log.warning("heartbeat failed (database unreachable?): %s", exc)
        finally:
            self.shutdown()

    def _keep_alive(self) -> None:
        """Touch the alive file from a thread of its own: a beat slowed by a database that
        hangs is no sign of a frozen daemon, a stopped process is (all its threads stop)."""
        remove_stale_alive_files(self.settings.host_name)
        touch(self.alive)
        interval = min(ALIVE_INTERVAL_S, self.settings.heartbeat_interval_s)

        def loop() -> None:
            while not self._alive_stop.wait(interval):
                touch(self.alive)

        threading.Thread(target=loop, name="mediaq-alive", daemon=True).start()

    def shutdown(self) -> None:
        try:
            with self.engine.begin() as conn:
                mark_draining(conn, self.settings.host_name)
        except SQLAlchemyError as exc:
            log.warning("could not mark host %s draining: %s", self.settings.host_name, exc)
        if self.supervisor is not None:
            self.supervisor.stop()
        self._alive_stop.set()
        self.alive.unlink(missing_ok=True)
        self.preflight.stop()
        try:
            with self.engine.begin() as conn:
                mark_gone(conn, self.settings.host_name)
        except SQLAlchemyError as exc:
            log.warning("could not mark host %s gone: %s", self.settings.host_name, exc)
        self.backend.close()
