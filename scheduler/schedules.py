"""Periodic entry of schedules: the active scheduler enqueues every due slot each tick."""

from __future__ import annotations

from mediaq import schedules
from mediaq.db import engine_for
from mediaq.settings import Settings
from scheduler.periodic import periodic

CHECK_EVERY_S = 0.2  # effectively every tick of the scheduler loop


@periodic("schedules", CHECK_EVERY_S)
def enqueue_due(settings: Settings) -> str | None:
    n = schedules.run_due(engine_for(settings.database_url), settings.cpu_only)
    return f"{n} scheduled jobs enqueued" if n else None
