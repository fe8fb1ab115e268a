"""Reading the fleet and the queue from PostgreSQL into the planner's plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from mediaq.jobtypes import FALLBACK_EXPECTED_S, JOB_TYPES
from mediaq.pauses import NOT_PAUSED_SQL, covering, load_pauses
from mediaq.settings import Settings
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob

# Expected run time by job type when the job's params give none (``expectedSeconds``, or
# ``seconds`` for noop), from each type's declaration. Only used to plan backfill around a
# held head job: an estimate that is too short lets a backfilled job delay the head by the
# difference, no more.
DEFAULT_EXPECTED_S: dict[str, float] = {name: t.expected_s for name, t in JOB_TYPES.items()}


def uses_encoder(job_type: str, resource_category: str, override: object = None) -> bool:
    """Whether a job takes an NVENC session: its type's default, or ``params.usesEncoder``."""
    if resource_category != "gpu_encode":
        return False
    if isinstance(override, bool):
        return override
    spec = JOB_TYPES.get(job_type)
    return spec is None or spec.uses_encoder


def run_seconds(job_type: str, from_params: float | None) -> float:
    """How long a job is expected to run: what its params say (``_EXPECTED_SQL`` reads
    ``params.expectedSeconds``, or noop's ``seconds``; None when absent or malformed, never
    fatal to a pass), else its type's default."""
    if from_params is not None:
        return float(from_params)
    return DEFAULT_EXPECTED_S.get(job_type, FALLBACK_EXPECTED_S)


def load_capacity(conn: Connection, settings: Settings) -> Capacity:
    """Slots of live hosts and their GPUs; registered GPUs that are away, apart."""
    hosts = conn.execute(
        text(
            """
            SELECT name, classes, cpu_slots, gpu_slots, nvenc_sessions, draining,
                   last_seen > now() - make_interval(secs => :timeout) AS live
              FROM worker_hosts
            """
        ),
        {"timeout": settings.host_timeout_s},
    ).all()
    live_hosts = [h for h in hosts if h.live]
    cpu_slots = sum(h.cpu_slots for h in live_hosts if "cpu" in h.classes and not h.draining)
    by_host = {h.name: h for h in hosts}
    gpus: list[GpuView] = []
    offline: list[GpuView] = []
    rows = conn.execute(
        text(
            """
            SELECT uuid, host_name, index, name, total_mib, free_mib, used_mib, foreign_mib,
                   encoder_sessions, healthy,
                   last_seen > now() - make_interval(secs => :timeout) AS fresh
              FROM gpus
             ORDER BY host_name, index
            """
        ),
        {"timeout": settings.host_timeout_s},
    ).all()
    for g in rows:
        host = by_host.get(g.host_name)
        if host is None:
            continue
        view = _gpu_view(g, host)
        (gpus if host.live and g.fresh else offline).append(view)
    return Capacity(cpu_slots=cpu_slots, gpus=tuple(gpus), offline_gpus=tuple(offline))


def _gpu_view(g: Any, host: Any) -> GpuView:
    return GpuView(
        uuid=g.uuid,
        host=g.host_name,
        index=g.index,
        name=g.name,
        total_mib=g.total_mib,
        free_mib=g.free_mib,
        foreign_mib=g.foreign_mib,
        used_mib=g.used_mib,
        encoder_sessions=g.encoder_sessions,
        slots=host.gpu_slots,
        encoder_limit=host.nvenc_sessions,
        healthy=g.healthy,
        classes=tuple(c for c in host.classes if c.startswith("gpu_")),
        draining=host.draining,
    )


# Typed in SQL (NULL where absent or malformed): no JSON is parsed in Python, which
# matters when a pass reads 10,000 pending jobs.
_EXPECTED_SQL = """
    CASE WHEN jsonb_typeof(params->'expectedSeconds') = 'number'
              AND (params->>'expectedSeconds')::float8 >= 0
         THEN (params->>'expectedSeconds')::float8
         WHEN type = 'noop' AND jsonb_typeof(params->'seconds') = 'number'
              AND (params->>'seconds')::float8 >= 0
         THEN (params->>'seconds')::float8 END"""
_ENCODER_SQL = """
    CASE WHEN jsonb_typeof(params->'usesEncoder') = 'boolean'
         THEN (params->>'usesEncoder')::boolean END"""


def load_live(conn: Connection) -> list[LiveJob]:
    """Every queued or running job: the slot counts and the reservation ledger.

    A GPU job is expected to release its reservation ``expected_seconds`` after it started
    (after now, while it is still queued).
    """
    rows = conn.execute(
        text(
            f"""
            SELECT id, type, resource_category, status, assigned_gpu, vram_required, started_at,
                   now() AS db_now, {_EXPECTED_SQL} AS expected, {_ENCODER_SQL} AS encoder
              FROM jobs WHERE status IN ('queued', 'running')
            """
        )
    ).all()
    live: list[LiveJob] = []
    for r in rows:
        expected_end = None
        if r.assigned_gpu:
            begin = r.started_at if r.status == "running" and r.started_at else r.db_now
            run_s = run_seconds(r.type, r.expected)
            expected_end = begin + timedelta(seconds=run_s)
        live.append(
            LiveJob(
                id=r.id,
                resource_category=r.resource_category,
                status=r.status,
                gpu_uuid=r.assigned_gpu,
                vram_mib=r.vram_required if r.assigned_gpu else 0,
                uses_encoder=uses_encoder(r.type, r.resource_category, r.encoder),
                started_at=r.started_at,
                expected_end=expected_end,
            )
        )
    return live


def load_pending(
    conn: Connection, class_name: str, limit: int, eligible_only: bool
) -> list[PendingJob]:
    """The head of one class's pending queue, in exact order.

    ``eligible_only`` leaves out what cannot start now (held, backing off, paused); otherwise
    paused jobs come with their ``PAUSED`` sentence."""
    if limit <= 0:
        return []
    only = (
        f"AND NOT held AND (not_before IS NULL OR not_before <= now()) AND {NOT_PAUSED_SQL}"
        if eligible_only
        else ""
    )
    pauses = load_pauses(conn)
    gpu = class_name != "cpu"
    extra = f"{_EXPECTED_SQL}, {_ENCODER_SQL}" if gpu else "NULL, NULL"
    rows = conn.execute(
        text(
            f"""
            SELECT id, type, priority, created_at, vram_required, held, not_before,
                   CASE WHEN held THEN waiting_reason END, {extra}
              FROM jobs
             WHERE status = 'pending' AND resource_category = :c {only}
             ORDER BY priority DESC, created_at, id
             LIMIT :limit
            """
        ),
        {"c": class_name, "limit": limit},
    ).all()
    jobs = []
    for job_id, type_, priority, created, vram, held, not_before, reason, run_s, enc in rows:
        pause = covering(pauses, class_name, type_) if pauses else None
        if gpu:
            expected = run_seconds(type_, run_s)
            encoder = uses_encoder(type_, class_name, enc)
        else:
            expected, encoder = 0.0, False
        jobs.append(
            PendingJob(
                job_id,
                class_name,
                priority,
                created,
                vram,
                encoder,
                held,
                not_before,
                reason,
                expected,
                pause.reason() if pause else None,
            )
        )
    return jobs


def count_busy(live: Sequence[LiveJob], class_name: str) -> int:
    return sum(1 for j in live if j.resource_category == class_name)


def database_now(conn: Connection) -> datetime:
    return conn.execute(text("SELECT now()")).scalar_one()
