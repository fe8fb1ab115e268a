"""The watcher thread of a worker process: heartbeats and notices cancellation.

One thread per pool process, started lazily after the fork. It checks every
``cancel_poll_s`` that the current attempt still owns its job (a read), and refreshes the
heartbeat every ``heartbeat_interval_s`` (a fenced write). When the job was cancelled or the
attempt superseded, it stops the handler through ``JobContext.cancel``.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from mediaq import jobstore
from tasks.context import JobContext

log = logging.getLogger(__name__)


class AttemptMonitor:
    def __init__(self, cancel_poll_s: float, heartbeat_interval_s: float) -> None:
        self.cancel_poll_s = cancel_poll_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self._current: JobContext | None = None
        self._last_beat = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, ctx: JobContext) -> None:
        with self._lock:
            self._current = ctx
            self._last_beat = time.monotonic()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mediaq-monitor", daemon=True)
            self._thread.start()

    def unwatch(self) -> None:
        with self._lock:
            self._current = None

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.cancel_poll_s)
            with self._lock:
                ctx = self._current
                beat_due = time.monotonic() - self._last_beat >= self.heartbeat_interval_s
                if beat_due:
                    self._last_beat = time.monotonic()
            if ctx is None or ctx.cancelled:
                continue
            try:
                self._check(ctx, beat_due)
            except SQLAlchemyError as exc:  # the database is away: try again next round
                log.warning("job %s: monitor could not reach the database: %s", ctx.job_id, exc)

    @staticmethod
    def _check(ctx: JobContext, beat_due: bool) -> None:
        with ctx.engine.begin() as conn:
            if beat_due:
                owned = jobstore.heartbeat(conn, ctx.job_id, ctx.attempt)
            else:
                owned = jobstore.still_owned(conn, ctx.job_id, ctx.attempt)
        if not owned:
            log.info(
                "job %s attempt %s: cancelled or superseded; stopping", ctx.job_id, ctx.attempt
            )
            ctx.cancel()
