"""Broker queue names: one shared CPU queue, and one queue per GPU (keyed by UUID).

Each queue is ``PRIORITY_LEVELS`` Redis lists (kombu's Redis transport emulates message
priority that way and a worker pops level 0 first): ``broker_level`` maps a job's priority
onto them, so a job admitted later with a higher priority overtakes messages already
waiting in the broker.
"""

from __future__ import annotations

from kombu.transport.redis import Channel

PRIORITY_LEVELS = 10
# kombu joins a queue name and a non-zero level with this separator
_LEVEL_SEP: str = Channel.sep


def cpu_queue(prefix: str) -> str:
    return f"{prefix}.cpu"


def gpu_queue(prefix: str, gpu_uuid: str) -> str:
    """The queue of the Celery worker process that owns this GPU."""
    return f"{prefix}.gpu.{gpu_uuid}"


def queue_for(prefix: str, gpu_uuid: str | None) -> str:
    return gpu_queue(prefix, gpu_uuid) if gpu_uuid else cpu_queue(prefix)


def task_id(job_id: int, expected_attempt: int) -> str:
    """Deterministic: republishing the same admission yields the same task id."""
    return f"job-{job_id}-a{expected_attempt + 1}"


def broker_level(priority: int) -> int:
    """The broker priority level of a job priority: 10 and above -> 0 (popped first),
    9 -> 1, ..., 1 and below -> 9. Priorities 1-10 keep their exact order in the broker."""
    return max(0, min(PRIORITY_LEVELS - 1, 10 - priority))


def broker_level_sql(priority_column: str) -> str:
    """``broker_level`` as a SQL expression over a priority column."""
    return f"greatest(0, least({PRIORITY_LEVELS - 1}, 10 - {priority_column}))"


def level_list(queue: str, level: int) -> str:
    """The Redis list that holds ``queue``'s messages of one level (kombu's naming)."""
    return f"{queue}{_LEVEL_SEP}{level}" if level else queue


def level_lists(queue: str) -> list[str]:
    """Every Redis list of ``queue``, most urgent first."""
    return [level_list(queue, level) for level in range(PRIORITY_LEVELS)]
