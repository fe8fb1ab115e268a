"""Broker queue names: one shared CPU queue, and one queue per GPU (keyed by UUID)."""

from __future__ import annotations


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
