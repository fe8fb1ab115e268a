"""A Celery worker process never outlives, nor runs on under, a dead or frozen host daemon.

Three layers, each covering what the one before cannot:

- the daemon starts each Celery worker through ``setpriv --pdeathsig=KILL``: when the
  daemon dies, even by SIGKILL, the kernel kills the Celery main process at once; each pool
  child asks the same of the kernel for its own parent (``worker_process_init``), and a
  job's subprocesses are started the same way by their pool child;
- a thread of the Celery main process checks twice a second that its parent is still the
  daemon that started it (the parent-death signal is lost if the daemon died before
  ``setpriv`` set it);
- the daemon marks its *alive file* with its monotonic clock twice a second; a daemon
  frozen (SIGSTOP, a paused VM) for longer than the heartbeat timeout is treated as dead.

On any of these the Celery worker kills its whole tree with SIGKILL: pool children, their
jobs' process groups, itself. Jobs it ran are rescued by the scheduler when their heartbeat
stops; a restarted (or thawed) daemon starts a fresh set of workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

import psutil

from mediaq.hostpaths import daemon_alive_file, daemon_alive_files
from mediaq.proctree import descendants_of

log = logging.getLogger(__name__)

POLL_S = 0.5


def verdict(
    parent_pid: int, daemon_pid: int, alive_age_s: float | None, frozen_after_s: float
) -> str | None:
    """Why this Celery worker must end now, or None while its daemon is alive.

    ``alive_age_s`` is the age of the daemon's alive file (None: the file is gone).
    """
    if parent_pid != daemon_pid:
        return f"host daemon {daemon_pid} is gone (parent is now {parent_pid})"
    if alive_age_s is None:
        return f"host daemon {daemon_pid} left no alive file"
    if alive_age_s > frozen_after_s:
        return f"host daemon {daemon_pid} silent for {alive_age_s:.1f} s (frozen?)"
    return None


def file_age_s(path: Path) -> float | None:
    """Seconds since the daemon last marked ``path``, None when missing or unreadable.

    The file holds the daemon's ``time.monotonic()``: one host, one monotonic clock, so a
    step of the wall clock (NTP, a skewed or faked clock) never makes a live daemon look
    frozen, as comparing a file's mtime with ``time.time()`` would.
    """
    try:
        marked = float(path.read_text())
    except (OSError, ValueError):
        return None
    return max(0.0, time.monotonic() - marked)


def touch(path: Path) -> None:
    """Mark the daemon alive now (atomically: a reader never sees half a number)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(repr(time.monotonic()))
    os.replace(tmp, path)


def remove_stale_alive_files(host_name: str) -> list[Path]:
    """Alive files left by daemons of this host that were killed (they cannot clean up)."""
    removed = []
    for pid, path in daemon_alive_files(host_name).items():
        if pid != os.getpid() and not psutil.pid_exists(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def end_tree() -> None:
    """SIGKILL every descendant (their job groups included), then this process."""
    for pid in reversed(descendants_of(os.getpid())):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


class Lifeline:
    """The watcher thread of a Celery main process (started once it is ready)."""

    def __init__(self, host_name: str, daemon_pid: int, frozen_after_s: float) -> None:
        self.daemon_pid = daemon_pid
        self.alive = daemon_alive_file(host_name, daemon_pid)
        self.frozen_after_s = frozen_after_s
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mediaq-lifeline", daemon=True)
        self._thread.start()

    def check(self) -> str | None:
        return verdict(os.getppid(), self.daemon_pid, file_age_s(self.alive), self.frozen_after_s)

    def _loop(self) -> None:
        while True:
            reason = self.check()
            if reason is not None:
                log.error("celery worker %s: %s; ending its process tree", os.getpid(), reason)
                end_tree()
            time.sleep(POLL_S)
