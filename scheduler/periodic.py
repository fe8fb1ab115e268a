"""Periodic work run by the active scheduler (view flushes, counter reconciliation, ...).

Other modules register with ``@periodic(name, every_s)``; each function takes the settings
and returns a short report line (or None). Time is passed in, so due-ness is pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mediaq.settings import Settings

log = logging.getLogger(__name__)

PeriodicFn = Callable[[Settings], str | None]


@dataclass
class PeriodicTask:
    name: str
    every_s: float
    fn: PeriodicFn
    last_run: float = field(default=float("-inf"))

    def due(self, now: float) -> bool:
        return now - self.last_run >= self.every_s


_TASKS: dict[str, PeriodicTask] = {}


def periodic(name: str, every_s: float) -> Callable[[PeriodicFn], PeriodicFn]:
    """Register ``fn`` to run every ``every_s`` seconds on the active scheduler."""

    def register(fn: PeriodicFn) -> PeriodicFn:
        _TASKS[name] = PeriodicTask(name, every_s, fn)
        return fn

    return register


def registered() -> list[PeriodicTask]:
    _load_contributors()
    return list(_TASKS.values())


def run_due(settings: Settings, now: float) -> list[str]:
    """Run every task that is due; a failing task is logged and tried again next time."""
    reports = []
    for task in registered():
        if not task.due(now):
            continue
        task.last_run = now
        try:
            line = task.fn(settings)
        except Exception:
            log.exception("periodic task %s failed", task.name)
            continue
        if line:
            reports.append(f"{task.name}: {line}")
    return reports


def _load_contributors() -> None:
    # Modules that contribute periodic work; imported lazily to keep start-up light.
    import importlib

    for module in ("scheduler.maintenance", "scheduler.retention", "scheduler.schedules"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
