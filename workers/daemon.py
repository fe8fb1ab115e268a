"""``mediaq worker``: the host daemon.

Detects the host's GPUs (one NVML session, opened here and only here), registers the host
and its GPUs, starts the Celery worker processes (a CPU worker and one per GPU), and
heartbeats GPU snapshots every ``heartbeat_interval_s``. A host that stops heartbeating gets
no new work; on a clean stop it says so at once.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from mediaq.db import engine_for
from mediaq.settings import Settings
from workers.celery_procs import WorkerSupervisor, worker_specs
from workers.gpu_backend import GpuBackend, open_backend
from workers.hostregistry import heartbeat_host, mark_gone, register_host

log = logging.getLogger(__name__)


class HostDaemon:
    def __init__(self, settings: Settings, backend: GpuBackend | None = None) -> None:
        self.settings = settings
        self.backend = backend or open_backend(settings.fake_gpus, settings.host_name)
        self.engine: Engine = engine_for(settings.database_url)
        self.supervisor: WorkerSupervisor | None = None

    def start(self) -> None:
        snaps = self.backend.snapshot()
        healthy = [(s.index, s.uuid) for s in snaps if s.healthy]
        if not any(c.startswith("gpu_") for c in self.settings.classes):
            healthy = []
        with self.engine.begin() as conn:
            register_host(conn, self.settings, self.settings.nvenc_sessions)
            heartbeat_host(conn, self.settings.host_name, snaps if healthy else [], frozenset())
        self.supervisor = WorkerSupervisor(worker_specs(self.settings, healthy))
        self.supervisor.start()
        log.info(
            "worker host %s: %d GPU(s), classes %s, %d celery worker(s)",
            self.settings.host_name,
            len(healthy),
            ",".join(self.settings.classes),
            len(self.supervisor.workers),
        )

    def beat(self) -> None:
        """One heartbeat: fresh GPU numbers, and restart any Celery worker that died."""
        assert self.supervisor is not None
        self.supervisor.check()
        gpu_classes = any(c.startswith("gpu_") for c in self.settings.classes)
        snaps = self.backend.snapshot() if gpu_classes else []
        with self.engine.begin() as conn:
            heartbeat_host(conn, self.settings.host_name, snaps, self.supervisor.pids())

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.wait(self.settings.heartbeat_interval_s):
                try:
                    self.beat()
                except SQLAlchemyError as exc:
                    log.warning("heartbeat failed (database unreachable?): %s", exc)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        try:
            with self.engine.begin() as conn:
                mark_gone(conn, self.settings.host_name)
        except SQLAlchemyError as exc:
            log.warning("could not mark host %s gone: %s", self.settings.host_name, exc)
        self.backend.close()
