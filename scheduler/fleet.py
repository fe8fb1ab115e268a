"""Reading the fleet and the queue from PostgreSQL into the planner's plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from mediaq.jobtypes import JOB_TYPES
from mediaq.settings import Settings
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob


def uses_encoder(job_type: str, resource_category: str) -> bool:
    spec = JOB_TYPES.get(job_type)
    return resource_category == "gpu_encode" and (spec is None or spec.uses_encoder)


def load_capacity(conn: Connection, settings: Settings) -> Capacity:
    """Slots of live hosts and the GPUs they report healthy."""
    hosts = conn.execute(
        text(
            """
            SELECT name, classes, cpu_slots, gpu_slots, nvenc_sessions, draining
              FROM worker_hosts
             WHERE last_seen > now() - make_interval(secs => :timeout)
            """
        ),
        {"timeout": settings.host_timeout_s},
    ).all()
    cpu_slots = sum(h.cpu_slots for h in hosts if "cpu" in h.classes and not h.draining)
    by_host = {h.name: h for h in hosts}
    gpus: list[GpuView] = []
    if by_host:
        rows = conn.execute(
            text(
                """
                SELECT uuid, host_name, index AS gpu_index, name, total_mib, free_mib, foreign_mib,
                       encoder_sessions, healthy
                  FROM gpus
                 WHERE host_name = ANY(:hosts)
                   AND last_seen > now() - make_interval(secs => :timeout)
                 ORDER BY host_name, index
                """
            ),
            {"hosts": list(by_host), "timeout": settings.host_timeout_s},
        ).all()
        for g in rows:
            host = by_host[g.host_name]
            gpus.append(
                GpuView(
                    uuid=g.uuid,
                    host=g.host_name,
                    index=g.gpu_index,
                    name=g.name,
                    total_mib=g.total_mib,
                    free_mib=g.free_mib,
                    foreign_mib=g.foreign_mib,
                    slots=host.gpu_slots,
                    encoder_limit=host.nvenc_sessions,
                    healthy=g.healthy,
                    classes=tuple(c for c in host.classes if c.startswith("gpu_")),
                    draining=host.draining,
                )
            )
    return Capacity(cpu_slots=cpu_slots, gpus=tuple(gpus))


def load_live(conn: Connection) -> list[LiveJob]:
    """Every queued or running job: the slot counts and the reservation ledger."""
    rows = conn.execute(
        text(
            """
            SELECT id, type, resource_category, status, assigned_gpu, vram_required, started_at
              FROM jobs WHERE status IN ('queued', 'running')
            """
        )
    ).all()
    return [
        LiveJob(
            id=r.id,
            resource_category=r.resource_category,
            status=r.status,
            gpu_uuid=r.assigned_gpu,
            vram_mib=r.vram_required if r.assigned_gpu else 0,
            uses_encoder=uses_encoder(r.type, r.resource_category),
            started_at=r.started_at,
        )
        for r in rows
    ]


def load_pending(
    conn: Connection, class_name: str, limit: int, eligible_only: bool
) -> list[PendingJob]:
    """The head of one class's pending queue, in exact order."""
    if limit <= 0:
        return []
    only = "AND NOT held AND (not_before IS NULL OR not_before <= now())" if eligible_only else ""
    rows = conn.execute(
        text(
            f"""
            SELECT id, type, resource_category, priority, created_at, vram_required, held,
                   not_before, waiting_reason
              FROM jobs
             WHERE status = 'pending' AND resource_category = :c {only}
             ORDER BY priority DESC, created_at, id
             LIMIT :limit
            """
        ),
        {"c": class_name, "limit": limit},
    ).all()
    return [
        PendingJob(
            id=r.id,
            resource_category=r.resource_category,
            priority=r.priority,
            created_at=r.created_at,
            vram_required=r.vram_required,
            uses_encoder=uses_encoder(r.type, r.resource_category),
            held=r.held,
            not_before=r.not_before,
            held_reason=r.waiting_reason if r.held else None,
        )
        for r in rows
    ]


def count_busy(live: Sequence[LiveJob], class_name: str) -> int:
    return sum(1 for j in live if j.resource_category == class_name)


def database_now(conn: Connection) -> datetime:
    return conn.execute(text("SELECT now()")).scalar_one()
