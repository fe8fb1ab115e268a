"""The watchers of a worker process: heartbeat, cancellation, and self-fencing.

Two threads per pool process, started lazily after the fork:

- the *heartbeat* thread checks every ``cancel_poll_s`` that the current attempt still owns
  its job (a read) and refreshes the heartbeat every ``heartbeat_interval_s`` (a write
  fenced by the attempt). When the job was cancelled or the attempt superseded, it stops
  the handler through ``JobContext.cancel``.
- the *fence* thread never touches the database, so it keeps its schedule when the
  database is unreachable and a statement hangs. When no heartbeat of the attempt has
  succeeded for ``self_fence_after_s`` (the host is partitioned, or the process was frozen
  and has just been thawed), it kills the attempt's process groups at once: the scheduler
  rescues a job only after ``heartbeat_timeout_s`` without a heartbeat on the database's
  clock, and that wait starts no earlier than the moment the last successful heartbeat was
  *sent*, so the zombie is stopped before another attempt can be admitted. A handler that
  does not return within ``HARD_EXIT_GRACE_S`` after that takes its whole pool process down
  with it (Celery starts a fresh one; the message goes back and its claim is refused).
  The thread also ends the process if its parent (the Celery main process) is gone.
- A *cancelled* attempt (the job was cancelled, or another attempt owns it) has its
  process groups sent SIGTERM, then SIGKILL after ``KILL_GRACE_S``; a handler that has
  still not returned ``CANCEL_HARD_STOP_S`` after the cancel (it ignores its cancellation,
  or is stuck) is ended with its pool process, so the slot frees within seconds whatever
  the handler does.

Whatever a fenced zombie still tries to write changes nothing: every write carries the
attempt number, and outputs are moved into place only under the attempt's row lock.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from mediaq import jobstore
from tasks.context import KILL_GRACE_S, JobContext

log = logging.getLogger(__name__)

HARD_EXIT_GRACE_S = 5.0
CANCEL_HARD_STOP_S = KILL_GRACE_S + 1.0  # its process groups had SIGTERM, then SIGKILL
FENCE_POLL_MAX_S = 0.25


def self_fence_after_s(heartbeat_timeout_s: float, poll_s: float) -> float:
    """How long without a successful heartbeat an attempt may run on.

    Two fence polls are kept in hand (the fence thread's own period and the kill), so the
    zombie is gone before the rescue may act; never less than one poll.
    """
    return max(poll_s, heartbeat_timeout_s - 2 * poll_s)


def fence_due(now: float, last_ok_sent: float, fence_after_s: float) -> bool:
    """Whether an attempt whose last good heartbeat was sent at ``last_ok_sent`` must stop."""
    return now - last_ok_sent > fence_after_s


def overdue(now: float, since: float | None, grace_s: float) -> bool:
    """Whether a stop requested at ``since`` (None: none was) is more than ``grace_s`` old."""
    return since is not None and now - since > grace_s


class AttemptMonitor:
    def __init__(
        self, cancel_poll_s: float, heartbeat_interval_s: float, heartbeat_timeout_s: float
    ) -> None:
        self.cancel_poll_s = cancel_poll_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.fence_poll_s = min(cancel_poll_s, FENCE_POLL_MAX_S)
        self.fence_after_s = self_fence_after_s(heartbeat_timeout_s, self.fence_poll_s)
        self.parent_pid = os.getppid()
        self._current: JobContext | None = None
        self._last_beat = 0.0
        self._last_ok_sent = 0.0  # monotonic time the last successful heartbeat was sent
        self._fenced_at: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def watch(self, ctx: JobContext, claimed_since: float) -> None:
        """Watch ``ctx``; ``claimed_since`` is when its claim (a heartbeat) was sent."""
        with self._lock:
            self._current = ctx
            self._last_beat = time.monotonic()
            self._last_ok_sent = claimed_since
            self._fenced_at = None
        if not self._threads or not all(t.is_alive() for t in self._threads):
            self._threads = [
                threading.Thread(target=self._loop, name="mediaq-monitor", daemon=True),
                threading.Thread(target=self._fence_loop, name="mediaq-fence", daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    def unwatch(self) -> None:
        with self._lock:
            self._current = None
            self._fenced_at = None

    # ---- heartbeat and cancellation -------------------------------------------------------
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
            sent = time.monotonic()
            try:
                owned = self._check(ctx, beat_due)
            except SQLAlchemyError as exc:  # the database is away: try again next round
                log.warning(
                    "job %s: monitor could not reach the database: %s",
                    ctx.job_id,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                )
                continue
            if not owned:
                log.info(
                    "job %s attempt %s: cancelled or superseded; stopping",
                    ctx.job_id,
                    ctx.attempt,
                )
                ctx.cancel()
            elif beat_due:
                with self._lock:
                    if self._current is ctx:
                        self._last_ok_sent = max(self._last_ok_sent, sent)

    @staticmethod
    def _check(ctx: JobContext, beat_due: bool) -> bool:
        with ctx.engine.begin() as conn:
            if beat_due:
                return jobstore.heartbeat(conn, ctx.job_id, ctx.attempt)
            return jobstore.still_owned(conn, ctx.job_id, ctx.attempt)

    # ---- self-fencing ---------------------------------------------------------------------
    def _fence_loop(self) -> None:
        while True:
            time.sleep(self.fence_poll_s)
            if os.getppid() != self.parent_pid:
                self._end_process("the Celery main process is gone")
            with self._lock:
                ctx = self._current
                last_ok = self._last_ok_sent
                fenced_at = self._fenced_at
            if ctx is None:
                continue
            now = time.monotonic()
            if fenced_at is None and fence_due(now, last_ok, self.fence_after_s):
                log.warning(
                    "job %s attempt %s: no heartbeat for %.1f s; stopping itself (fenced)",
                    ctx.job_id,
                    ctx.attempt,
                    now - last_ok,
                )
                with self._lock:
                    if self._current is ctx:
                        self._fenced_at = now
                ctx.fence()
            elif overdue(now, fenced_at, HARD_EXIT_GRACE_S):
                self._end_process(f"job {ctx.job_id} attempt {ctx.attempt} ignored its fence")
            elif overdue(now, ctx.cancelled_at, CANCEL_HARD_STOP_S):  # fenced since, or not
                ctx.fence()  # SIGKILL whatever process group is left
                self._end_process(f"job {ctx.job_id} attempt {ctx.attempt} ignored its cancel")

    @staticmethod
    def _end_process(reason: str) -> None:
        log.error("worker process %s: %s; exiting at once", os.getpid(), reason)
        os.kill(os.getpid(), signal.SIGKILL)
