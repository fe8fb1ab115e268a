"""What a handler gets: params, progress, a capped log, cancellation and subprocesses.

Handlers know nothing of Celery. Every write goes through the attempt's fencing token, so a
handler of a superseded attempt changes nothing; it learns so through ``check_cancelled``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from mediaq import jobstore
from mediaq.errors import AttemptSuperseded, JobCancelled
from mediaq.proctree import with_parent_death_signal
from mediaq.settings import Settings
from mediaq.transitions import Claim

PROGRESS_MIN_INTERVAL_S = 0.5
KILL_GRACE_S = 2.0


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    output_tail: str


class JobContext:
    """The running attempt of one job, as its handler sees it."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        claim: Claim,
        host: str,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.claim = claim
        self.host = host
        self._cancel = threading.Event()
        self.cancelled_at: float | None = None  # monotonic time of the first cancel
        self._groups: set[int] = set()
        self._groups_lock = threading.Lock()
        self._last_progress = -1
        self._last_progress_at = 0.0
        self._on_progress = on_progress

    # ---- identity -------------------------------------------------------------------------
    @property
    def job_id(self) -> int:
        return self.claim.job_id

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    @property
    def params(self) -> dict[str, Any]:
        return self.claim.params

    @property
    def gpu_uuid(self) -> str | None:
        return self.claim.assigned_gpu

    # ---- progress and log -----------------------------------------------------------------
    def progress(self, percent: float, force: bool = False) -> None:
        """Report progress 0-100; writes are throttled, a superseded attempt is stopped."""
        value = max(0, min(100, int(percent)))
        now = time.monotonic()
        if value == self._last_progress:
            return
        if not force and now - self._last_progress_at < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress, self._last_progress_at = value, now
        with self.engine.begin() as conn:
            owned = jobstore.report_progress(conn, self.job_id, self.attempt, value)
        if not owned:
            self.cancel()
        if self._on_progress is not None:
            self._on_progress(value)
        self.check_cancelled()

    def log(self, line: str) -> None:
        """Append a line to the job's log (the log keeps its tail)."""
        if not line.endswith("\n"):
            line += "\n"
        with self.engine.begin() as conn:
            owned = jobstore.append_log(
                conn, self.job_id, self.attempt, line, self.settings.log_max_chars
            )
        if not owned:
            self.cancel()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database transaction for the handler's own rows (videos, compilations, ...).

        Fenced: just before it commits, the attempt's job row is locked and checked; when
        the attempt no longer owns the job (superseded after a rescue, or cancelled) the
        transaction is rolled back and ``AttemptSuperseded`` raised, so a zombie never
        registers a second output.
        """
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session
            self._lock_owned(session.connection())

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """Run the block while this attempt provably owns its job.

        The job row is locked (``FOR SHARE``) for the block: no rescue, claim or outcome of
        another attempt can happen meanwhile. Used to move outputs into place.
        """
        with self.engine.begin() as conn:
            self._lock_owned(conn)
            yield

    def _lock_owned(self, conn: Connection) -> None:
        if not jobstore.lock_owned(conn, self.job_id, self.attempt):
            self.cancel()
            raise AttemptSuperseded(
                f"job {self.job_id} attempt {self.attempt} no longer owns the job"
            )

    # ---- cancellation ---------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise JobCancelled once the job was cancelled or this attempt superseded."""
        if self._cancel.is_set():
            raise JobCancelled(f"job {self.job_id} attempt {self.attempt} stopped")

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once on cancellation."""
        if self._cancel.wait(max(0.0, seconds)):
            self.check_cancelled()

    def cancel(self) -> None:
        """Stop the attempt: set the flag and end every process group it started (SIGTERM,
        SIGKILL after ``KILL_GRACE_S``). A handler that still has not returned is ended
        with its worker process by the monitor (``tasks.monitor``)."""
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
        self._cancel.set()
        with self._groups_lock:
            groups = list(self._groups)
        for pgid in groups:
            _kill_group(pgid)

    def fence(self) -> None:
        """Stop the attempt at once (it may no longer own its job): SIGKILL, no grace."""
        self._cancel.set()
        with self._groups_lock:
            groups = list(self._groups)
        for pgid in groups:
            with suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

    # ---- subprocesses ---------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        on_line: Callable[[str], None] | None = None,
        tail_lines: int = 40,
        cwd: str | None = None,
        stdout_lines: bool = False,
    ) -> ProcessResult:
        """Run a command in its own process group; cancel ends the whole group.

        stderr (or stdout when ``stdout_lines``) is read line by line into ``on_line``; its
        tail comes back in the result.
        """
        self.check_cancelled()
        proc = subprocess.Popen(
            # killed by the kernel if this worker process dies (a job never outlives it)
            with_parent_death_signal(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_lines else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if stdout_lines else subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        with self._groups_lock:
            self._groups.add(proc.pid)
        tail: deque[str] = deque(maxlen=tail_lines)
        stream = proc.stdout if stdout_lines else proc.stderr
        try:
            assert stream is not None
            for raw in stream:
                line = raw.rstrip("\n")
                tail.append(line)
                if on_line is not None:
                    on_line(line)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                _kill_group(proc.pid)
                proc.wait()
            if stream is not None:
                stream.close()
            with self._groups_lock:
                self._groups.discard(proc.pid)
        self.check_cancelled()
        return ProcessResult(code, "\n".join(tail))


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
