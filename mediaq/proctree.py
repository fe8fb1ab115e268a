"""A tree of child processes that can always be taken down completely.

Each child runs in a process group of its own (so a terminal's Ctrl-C reaches only the
parent, which then stops the children in order). Some children start grandchildren in
further groups of their own (the worker daemon's Celery workers, a job's ffmpeg), so
ending the children's groups is not enough. Two things make sure nothing is left behind:

- the parent becomes a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): any descendant
  orphaned by a dying child is re-parented to it rather than to init, so it stays visible
  as a direct child and is ended and reaped in the final sweep;
- before stopping, every descendant is recorded (a ``psutil.Process``, which keeps its start
  time against pid reuse), and whatever of that record outlives the grace period is killed.

Children also get ``PR_SET_PDEATHSIG``: if the parent itself is killed with SIGKILL, its
children receive SIGTERM and stop in their own orderly way.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
COMM_MAX = 15  # a thread name's bytes (``/proc/<pid>/comm``)
ATTEMPT_NAME = re.compile(r"mqj(\d+)a(\d+)")


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, loaded once per process (a worker renames itself for every job)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _prctl(option: int, value: int) -> bool:
    try:
        return int(_libc().prctl(option, value, 0, 0, 0)) == 0  # type: ignore[union-attr]
    except AttributeError:  # no C library, or no prctl in it
        return False


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux)."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def thread_name() -> str:
    """The calling thread's name (for a process's main thread: what ``ps`` shows)."""
    try:
        return Path("/proc/thread-self/comm").read_text().rstrip("\n")
    except OSError:
        return ""


def name_thread(name: str) -> None:
    """Name the calling thread (Linux; cut to 15 bytes); nothing where unsupported."""
    try:
        _libc().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:COMM_MAX]), 0, 0, 0)  # type: ignore[union-attr]
    except AttributeError:
        return


def attempt_name(job_id: int, attempt: int) -> str:
    """The name a worker process carries while it runs an attempt (``ps -o comm``)."""
    return f"mqj{job_id}a{attempt}"


def attempt_of(name: str) -> tuple[int, int] | None:
    """``(job id, attempt)`` of a process name given by ``attempt_name``, else None."""
    match = ATTEMPT_NAME.fullmatch(name)
    return (int(match[1]), int(match[2])) if match else None


def with_parent_death_signal(argv: Sequence[str], sig: str = "KILL") -> list[str]:
    """``argv`` started through util-linux ``setpriv --pdeathsig``: the command receives
    ``sig`` when the process that started it dies, even by SIGKILL.

    ``setpriv`` sets the signal and then execs the command (same pid, nothing stays
    between), so no ``preexec_fn`` has to run in a forked multi-threaded parent. Where
    ``setpriv`` is missing the command runs as it is.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return list(argv)
    return [setpriv, f"--pdeathsig={sig}", "--", *argv]


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only; False where unsupported)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _child_setup() -> None:
    # Runs in the child between fork and exec: a new session (own process group), and
    # SIGTERM when the parent dies.
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's), from the kernel's own lists.

    Not psutil: its ``children()`` scans every process of the machine for their parents,
    and a host daemon lists its workers' trees for every GPU preflight (9 workers on a
    machine of 209 processes: 30-43 ms that way against 0.7-1 ms from these lists).
    """
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        with suppress(OSError):
            kids += [int(k) for k in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    return kids


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid``, breadth first."""
    found: list[int] = []
    frontier = children_of(pid)
    seen: set[int] = set()
    while frontier:
        child = frontier.pop(0)
        if child in seen:
            continue
        seen.add(child)
        found.append(child)
        frontier += children_of(child)
    return found


def start_time(pid: int) -> float | None:
    """When the process started (None when there is none): with its pid, it names one
    process, since a pid may be reused."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited, reaped or not."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True


@dataclass
class Child:
    """One supervised child process and the name it is known by."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class ProcessTree:
    """Children in their own process groups, stopped in full by ``stop``."""

    children: list[Child] = field(default_factory=list)
    subreaper: bool = False

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start one child in a new session (its own process group)."""
        if not self.subreaper:
            self.subreaper = become_subreaper()
        child = Child(name, list(argv), dict(env))
        child.proc = subprocess.Popen(child.argv, env=child.env, preexec_fn=_child_setup)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        """Children that have exited (their exit code is in ``proc.returncode``)."""
        return [c for c in self.children if c.proc is not None and c.proc.poll() is not None]

    def reap_orphans(self) -> None:
        """Reap adopted orphans that have exited (never our own children: Popen does that)."""
        ours = {c.proc.pid for c in self.children if c.proc is not None}
        for pid in children_of(os.getpid()):
            if pid not in ours:
                with suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def stop(self, grace_s: float = 20.0) -> list[int]:
        """SIGTERM every child's group, wait, then SIGKILL whatever is left; returns leftovers.

        The returned list names processes still alive afterwards (empty when the tree is
        gone, which is the only outcome expected).
        """
        recorded = self._record_descendants()
        for child in self.children:
            if child.running:
                assert child.proc is not None
                _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", child.name, grace_s)
                _signal_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        recorded |= self._record_descendants()
        self._wait_recorded(recorded, deadline)
        self._kill_recorded(recorded)
        return self._sweep()

    def _record_descendants(self) -> set[psutil.Process]:
        # A psutil.Process keeps its start time: a reused pid is never taken for it.
        record: set[psutil.Process] = set()
        for pid in descendants_of(os.getpid()):
            with suppress(psutil.Error):
                record.add(psutil.Process(pid))
        return record

    def _wait_recorded(self, recorded: set[psutil.Process], deadline: float) -> None:
        # Grandchildren in groups of their own may still be finishing their shutdown.
        while time.monotonic() < deadline:
            self.reap_orphans()
            if not any(_alive(proc) for proc in recorded):
                return
            time.sleep(0.05)

    @staticmethod
    def _kill_recorded(recorded: set[psutil.Process]) -> None:
        for proc in recorded:
            if _alive(proc):
                log.warning("killing leftover process %d", proc.pid)
                with suppress(psutil.Error):
                    proc.kill()  # checks first that the pid is still this process

    def _sweep(self, timeout_s: float = 5.0) -> list[int]:
        """Kill and reap every remaining child (adopted orphans included) until none is left."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = children_of(os.getpid())
            for pid in left:
                if not is_zombie(pid):
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                with suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            # Done only when every child is reaped too: a zombie left to init may linger.
            left = children_of(os.getpid())
            if not left or time.monotonic() > deadline:
                return [p for p in left if not is_zombie(p)]
            time.sleep(0.05)


def _alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
