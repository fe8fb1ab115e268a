"""Applying a plan: the atomic pending -> queued update, then one Celery message per job."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Connection, text

from mediaq.celeryapp import RUN_JOB
from mediaq.pauses import NOT_PAUSED_SQL
from mediaq.queues import queue_for, task_id
from scheduler.model import Placement, Waiting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admitted:
    """A job that is now queued and must be published (after the commit)."""

    job_id: int
    attempt: int
    gpu_uuid: str | None


def admit(conn: Connection, placements: Sequence[Placement]) -> list[Admitted]:
    """Move placed jobs to queued with their reservation, if they are still pending.

    The ``status = 'pending'`` condition makes admission and reservation one atomic step:
    a job cancelled meanwhile, or admitted by another scheduler, is simply not returned.
    """
    if not placements:
        return []
    rows = conn.execute(
        text(
            """
            UPDATE jobs AS j
               SET status = 'queued', queued_at = now(), updated_at = now(),
                   assigned_gpu = p.gpu, assigned_host = p.host,
                   waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
              FROM unnest(CAST(:ids AS int[]), CAST(:gpus AS text[]), CAST(:hosts AS text[]))
                   AS p(id, gpu, host)
             WHERE j.id = p.id AND j.status = 'pending'
            RETURNING j.id, j.attempt, j.assigned_gpu
            """
        ),
        {
            "ids": [p.job_id for p in placements],
            "gpus": [p.gpu_uuid for p in placements],
            "hosts": [p.host for p in placements],
        },
    ).all()
    order = {p.job_id: i for i, p in enumerate(placements)}
    admitted = [Admitted(r.id, r.attempt, r.assigned_gpu) for r in rows]
    admitted.sort(key=lambda a: order[a.job_id])
    return admitted


_ADMIT_CPU_HEAD = text(
    f"""
    WITH pick AS (
        SELECT id FROM jobs
         WHERE status = 'pending' AND resource_category = 'cpu' AND NOT held
           AND (not_before IS NULL OR not_before <= now()) AND {NOT_PAUSED_SQL}
         ORDER BY priority DESC, created_at, id
         LIMIT greatest(0, :room - (SELECT count(*) FROM jobs
                                     WHERE status IN ('queued', 'running')
                                       AND resource_category = 'cpu'))
         FOR UPDATE SKIP LOCKED)
    UPDATE jobs AS j
       SET status = 'queued', queued_at = now(), updated_at = now(),
           assigned_gpu = NULL, assigned_host = NULL,
           waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
      FROM pick
     WHERE j.id = pick.id AND j.status = 'pending'
    RETURNING j.id, j.attempt, j.priority, j.created_at
    """
)


def admit_cpu_head(conn: Connection, room: int) -> list[Admitted]:
    """The fast path of CPU admission, in one statement: admit the head of the pending
    queue while fewer than ``room`` CPU jobs are queued or running. Same rule as
    ``scheduler.ordering.plan_slots``; the full pass uses the pure planner."""
    if room <= 0:
        return []
    rows = sorted(
        conn.execute(_ADMIT_CPU_HEAD, {"room": room}).all(),
        key=lambda r: (-r.priority, r.created_at, r.id),
    )
    return [Admitted(r.id, r.attempt, None) for r in rows]


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
