"""Flower's config file for mediaq (``celery flower --conf=<this file>``, set by ``mediaq flower``).

While a job runs, its worker sends ``task-progress`` events (``MEDIAQ_TASK_EVENTS``) with
``progress=<0-100>`` and ``result="<n>%"``. Flower turns a custom event into a custom task
state, ``PROGRESS``; it keeps the event's fields, but its pages show only the standard ones,
so the percentage travels as the interim ``result`` (replaced by the outcome when the task
ends) and ``format_task`` adds it to the state label.
"""

from __future__ import annotations

from typing import Any

# The tasks table gains the result column: a running job's progress, then its outcome
# (completed, retrying, failed, cancelled, dropped for a duplicate delivery, ...).
tasks_columns = "name,uuid,state,received,started,runtime,worker,result"


def format_task(task: Any) -> Any:
    """Show a running job's progress in its state label (Flower passes a copy)."""
    result = getattr(task, "result", None)
    if getattr(task, "state", None) == "PROGRESS" and isinstance(result, str):
        task.state = f"PROGRESS {result}"
    return task
