"""Looking at processes the way an operator would (``ps``), for the fault tests."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from pathlib import Path

from mediaq.proctree import descendants_of, is_zombie


def alive(pid: int) -> bool:
    """Running (or stopped), not exited: a zombie waiting to be reaped counts as gone."""
    return Path(f"/proc/{pid}").exists() and not is_zombie(pid)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def celery_workers_of(host_name: str) -> list[int]:
    """Every process on the machine that is a Celery worker (main or pool) of ``host_name``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            line = cmdline(int(entry))
            if "celery" in line and f"@{host_name} " in line + " ":
                found.append(int(entry))
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    return [p for p in [pid, *descendants_of(pid)] if alive(p)]


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
