"""Applying a plan: the atomic pending -> queued update (``mediaq.transitions.admit``), then
one Celery message per admitted job, and the waiting positions and reasons of the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from sqlalchemy import Connection, text

from mediaq.celeryapp import RUN_JOB
from mediaq.queues import queue_for, task_id
from mediaq.transitions import Admitted, admit, admit_cpu_head
from scheduler.model import Waiting

log = logging.getLogger(__name__)

__all__ = [
    "Admitted",
    "admit",
    "admit_cpu_head",
    "clear_positions_outside",
    "publish",
    "write_waiting",
]


def publish(app: Celery, prefix: str, jobs: Sequence[Admitted]) -> None:
    """Send one message per admitted job to the queue of its class or GPU.

    The task id is deterministic, so a republish of the same admission is recognisable.
    Publishing happens after the commit; a crash in between is healed by the claim-timeout
    rescue, which publishes again.
    """
    if not jobs:
        return
    with app.producer_or_acquire() as producer:
        for job in jobs:
            app.send_task(
                RUN_JOB,
                args=[job.job_id, job.attempt],
                task_id=task_id(job.job_id, job.attempt),
                queue=queue_for(prefix, job.gpu_uuid),
                producer=producer,
            )


def write_waiting(conn: Connection, waiting: Sequence[Waiting]) -> int:
    """Store positions and reasons of pending jobs; rows already up to date are skipped."""
    if not waiting:
        return 0
    result = conn.execute(
        text(
            """
            UPDATE jobs AS j
               SET queue_position = w.pos, waiting_code = w.code, waiting_reason = w.reason
              FROM unnest(CAST(:ids AS int[]), CAST(:pos AS int[]), CAST(:codes AS text[]),
                          CAST(:reasons AS text[])) AS w(id, pos, code, reason)
             WHERE j.id = w.id AND j.status = 'pending'
               AND (j.queue_position IS DISTINCT FROM w.pos
                    OR j.waiting_code IS DISTINCT FROM w.code
                    OR j.waiting_reason IS DISTINCT FROM w.reason)
            """
        ),
        {
            "ids": [w.job_id for w in waiting],
            "pos": [w.position for w in waiting],
            "codes": [w.code for w in waiting],
            "reasons": [w.reason for w in waiting],
        },
    )
    return result.rowcount


def clear_positions_outside(conn: Connection, class_name: str, keep_ids: Sequence[int]) -> None:
    """Pending jobs pushed out of the head window lose their (now stale) position."""
    conn.execute(
        text(
            """
            UPDATE jobs SET queue_position = NULL
             WHERE status = 'pending' AND resource_category = :c
               AND queue_position IS NOT NULL AND NOT (id = ANY(:keep))
            """
        ),
        {"c": class_name, "keep": list(keep_ids)},
    )
