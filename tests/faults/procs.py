"""Looking at processes the way an operator would (``ps``), for the fault tests."""

from __future__ import annotations

import os
import signal
from contextlib import suppress

import psutil

from mediaq.proctree import descendants_of, is_zombie


def alive(pid: int) -> bool:
    """Running (or stopped), not exited: a zombie waiting to be reaped counts as gone."""
    return psutil.pid_exists(pid) and not is_zombie(pid)


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def celery_workers_of(host_name: str) -> list[int]:
    """Every process on the machine that is a Celery worker (main or pool) of ``host_name``."""
    found = []
    for pid in psutil.pids():
        if alive(pid):
            line = cmdline(pid)
            if "celery" in line and f"@{host_name} " in line + " ":
                found.append(pid)
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    return [p for p in [pid, *descendants_of(pid)] if alive(p)]


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
