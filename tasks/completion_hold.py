"""A pool process's held success: written with its next claim, or alone after a short wait.

A worker that is kept busy claims its next job a millisecond or so after it finished the
last one. The success of the last one (a job outside any pipeline) is held that long, and
written in the same statement and commit as the next claim (``transitions.claim_after``):
one round trip and one commit per job instead of two. When no claim comes within
``hold_s``, a background thread writes the success alone.

What a crash costs: a held success is in this process's memory only. If the process is
killed (SIGKILL, the machine going down) before it is written, the job stays ``running``
with no heartbeat, and the heartbeat rescue retries it like any attempt whose worker died:
the job runs again. Nothing is lost, and nothing runs twice at once (the rescue only acts
on an attempt whose heartbeat stopped). A process that ends normally writes what it holds
first (``flush``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from mediaq.transitions import Completion

log = logging.getLogger(__name__)


class CompletionHold:
    """At most one held success; ``take`` hands it to the next claim, whoever comes first
    (the claim or the timer) writes it, never both."""

    def __init__(self, hold_s: float, write: Callable[[Completion], None]) -> None:
        self.hold_s = hold_s
        self._write = write
        self._held: Completion | None = None
        self._due = 0.0
        self._cond: threading.Condition | None = None
        self._pid = 0
        # The writer thread waits with no deadline (nothing held): only then does ``hold``
        # wake it. Otherwise it already waits for a deadline, and rechecks what is held when
        # that passes; on a busy worker it wakes about once per ``hold_s``, not once per job
        # (a wake-up is a thread switch in the pool process, on the path to the next job).
        self._idle = False
        # Held by a write in progress: ``flush`` waits for it, so a process closing its
        # connections right after never closes them under the writer thread's feet.
        self._writing = threading.Lock()

    def _ready(self) -> threading.Condition:
        # Threads do not survive a fork: the pool process starts its own on first use.
        if self._cond is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._cond = threading.Condition()
            self._held = None
            self._idle = False
            self._writing = threading.Lock()  # one held at the fork stays held in the child
            threading.Thread(target=self._loop, name="mediaq-completions", daemon=True).start()
        return self._cond

    def hold(self, done: Completion) -> None:
        cond = self._ready()
        with cond:
            earlier, self._held = self._held, done
            self._due = time.monotonic() + self.hold_s
            if self._idle:
                cond.notify()
        if earlier is not None:  # never happens on one pool process's one task thread
            self._write(earlier)

    def take(self) -> Completion | None:
        """The held success, for the caller to write (with its claim)."""
        if self._cond is None or self._pid != os.getpid():
            return None
        with self._cond:
            done, self._held = self._held, None
        return done

    def give_back(self, done: Completion) -> None:
        """A taken success whose write failed: held again (the timer writes it)."""
        cond = self._ready()
        with cond:
            if self._held is None:
                self._held, done = done, None  # type: ignore[assignment]
                self._due = time.monotonic()
                cond.notify()
        if done is not None:
            self._write(done)

    def flush(self) -> None:
        """Write what is held now (the process is about to end); returns only once no write
        of the writer thread is in progress either."""
        if self._cond is None or self._pid != os.getpid():
            return
        with self._cond:  # the lock order of ``_loop``: the condition, then ``_writing``
            done, self._held = self._held, None
            self._writing.acquire()
        try:
            if done is not None:
                self._write(done)
        finally:
            self._writing.release()

    def _loop(self) -> None:
        cond = self._cond
        assert cond is not None
        while True:
            with cond:
                while self._held is None:
                    self._idle = True
                    cond.wait()
                self._idle = False
                wait = self._due - time.monotonic()
                if wait > 0:
                    cond.wait(wait)
                    continue
                done, self._held = self._held, None
                self._writing.acquire()  # taken and marked in flight under one lock
            try:
                self._write(done)
            except Exception:  # the writer retries while the database is away; log the rest
                log.exception(
                    "job %s: success of attempt %s not written", done.job_id, done.attempt
                )
            finally:
                self._writing.release()
