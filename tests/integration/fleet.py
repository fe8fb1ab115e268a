"""A real fleet for integration tests: scheduler threads and worker daemon subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.settings import Settings, settings_to_env
from scheduler.service import Scheduler


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def query(settings: Settings, sql: str, **params: Any) -> list[Any]:
    with engine_for(settings.database_url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def scalar(settings: Settings, sql: str, **params: Any) -> Any:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(text(sql), params).scalar()


def status_counts(settings: Settings) -> dict[str, int]:
    rows = query(settings, "SELECT status, count(*) AS n FROM jobs GROUP BY status")
    return {r.status: int(r.n) for r in rows}


class SchedulerThread:
    """A real Scheduler running in a thread of the test process."""

    def __init__(self, settings: Settings) -> None:
        self.scheduler = Scheduler(settings)
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.scheduler.run_forever, args=(self.stop,), daemon=True
        )

    def start(self) -> SchedulerThread:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.scheduler.engine.dispose()


class WorkerProcess:
    """``mediaq worker`` as a subprocess (its own process group)."""

    def __init__(self, settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None):
        env = dict(os.environ) | settings_to_env(settings) | (extra_env or {})
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path = log_path
        self.log_file = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "worker"],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        """The daemon and every process below it."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "-g", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        groups = [int(p) for p in out.split()]
        # Celery workers run in process groups of their own: find them by parentage.
        found, frontier = set(groups), list(groups)
        while frontier:
            pid = frontier.pop()
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                kids = []
            for kid in kids:
                if kid not in found:
                    found.add(kid)
                    frontier.append(kid)
        return sorted(found)

    def kill_hard(self) -> None:
        """SIGKILL the daemon and every Celery process it started (a host lost)."""
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log_file.close()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextmanager
def fleet(
    settings: Settings,
    tmp_path: Path,
    workers: int = 1,
    schedulers: int = 1,
    worker_overrides: list[dict[str, Any]] | None = None,
) -> Iterator[tuple[list[SchedulerThread], list[WorkerProcess]]]:
    """Schedulers and worker hosts for one test; everything is stopped afterwards."""
    started_s: list[SchedulerThread] = []
    started_w: list[WorkerProcess] = []
    try:
        for i in range(workers):
            overrides = (worker_overrides or [{}] * workers)[i]
            host_settings = replace(settings, host_name=f"{settings.host_name}-w{i}", **overrides)
            started_w.append(WorkerProcess(host_settings, tmp_path / f"worker{i}.log"))
        for _ in range(schedulers):
            started_s.append(SchedulerThread(settings).start())
        yield started_s, started_w
    finally:
        for s in started_s:
            s.close()
        for w in started_w:
            w.close()


def wait_for_workers(settings: Settings, hosts: int, timeout: float = 30.0) -> None:
    """Until ``hosts`` worker hosts have registered and their Celery workers answer."""
    wait_until(
        lambda: (
            scalar(
                settings,
                "SELECT count(*) FROM worker_hosts WHERE last_seen > now() - interval '5 seconds'",
            )
            >= hosts
        ),
        timeout,
        what=f"{hosts} worker hosts",
    )
