"""VRAM-aware admission for the GPU classes (pure).

On every GPU: reserved (queued + running jobs) + foreign memory + safety margin never
exceeds capacity; a job takes one of the GPU's slots; a ``gpu_encode`` job that uses the
encoder also takes one NVENC session. Placement is best fit (least VRAM left over).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.model import Capacity, GpuView, LiveJob, PendingJob, Placement, Plan, Waiting
from scheduler.ordering import blocked_reason


@dataclass
class GpuLedger:
    """What one GPU has promised: reserved MiB, jobs, encoder sessions."""

    gpu: GpuView
    reserved_mib: int = 0
    jobs: int = 0
    encoder_jobs: int = 0
    job_ids: list[int] = field(default_factory=list)

    def usable_mib(self, margin_mib: int) -> int:
        """VRAM still promisable: capacity less reservations, foreign memory and margin."""
        return self.gpu.total_mib - self.reserved_mib - self.gpu.foreign_mib - margin_mib

    def encoder_free(self) -> int:
        used = self.encoder_jobs + self.gpu.encoder_sessions_foreign
        return self.gpu.encoder_limit - used

    def take(self, job: PendingJob) -> None:
        self.reserved_mib += job.vram_required
        self.jobs += 1
        self.encoder_jobs += int(job.uses_encoder)
        self.job_ids.append(job.id)


def build_ledgers(gpus: Sequence[GpuView], live: Sequence[LiveJob]) -> dict[str, GpuLedger]:
    """The reservation ledger of every GPU, from the queued and running jobs."""
    ledgers = {g.uuid: GpuLedger(g) for g in gpus}
    for job in live:
        ledger = ledgers.get(job.gpu_uuid or "")
        if ledger is None:
            continue
        ledger.reserved_mib += job.vram_mib
        ledger.jobs += 1
        ledger.encoder_jobs += int(job.uses_encoder)
        ledger.job_ids.append(job.id)
    return ledgers


def plan_gpu_class(
    class_name: str,
    pending: Sequence[PendingJob],
    ledgers: dict[str, GpuLedger],
    now: datetime,
    margin_mib: int,
) -> Plan:
    """Admit the jobs of one GPU class in order wherever they fit; explain the rest."""
    serving = [
        ledger
        for ledger in ledgers.values()
        if ledger.gpu.healthy and class_name in ledger.gpu.classes
    ]
    admitted: list[Placement] = []
    waiting: list[Waiting] = []
    for position, job in enumerate(pending, start=1):
        blocked = blocked_reason(job, now)
        if blocked is not None:
            waiting.append(Waiting(job.id, position, *blocked))
            continue
        if not serving:
            waiting.append(
                Waiting(
                    job.id,
                    position,
                    "NO_WORKERS",
                    f"NO_WORKERS: no live GPU serves class {class_name}",
                )
            )
            continue
        target = _best_fit(job, serving, margin_mib)
        if target is not None:
            target.take(job)
            admitted.append(Placement(job.id, target.gpu.uuid, target.gpu.host))
            continue
        waiting.append(_why_not(job, position, serving, margin_mib))
    return Plan(tuple(admitted), tuple(waiting))


def _fits(job: PendingJob, ledger: GpuLedger, margin_mib: int) -> bool:
    if ledger.gpu.draining or ledger.jobs >= ledger.gpu.slots:
        return False
    if job.uses_encoder and ledger.encoder_free() <= 0:
        return False
    return job.vram_required <= ledger.usable_mib(margin_mib)


def _best_fit(job: PendingJob, serving: Sequence[GpuLedger], margin_mib: int) -> GpuLedger | None:
    fitting = [ledger for ledger in serving if _fits(job, ledger, margin_mib)]
    if not fitting:
        return None
    return min(fitting, key=lambda ld: (ld.usable_mib(margin_mib) - job.vram_required, ld.gpu.uuid))


def _why_not(job: PendingJob, position: int, serving: Sequence[GpuLedger], margin: int) -> Waiting:
    largest = max(serving, key=lambda ld: ld.gpu.total_mib - margin)
    if job.vram_required > largest.gpu.total_mib - margin:
        return Waiting(
            job.id,
            position,
            "NEVER_FITS",
            f"NEVER_FITS: needs {job.vram_required} MiB; the largest GPU "
            f"{largest.gpu.host}/{largest.gpu.uuid} has {largest.gpu.total_mib} MiB "
            f"({margin} MiB safety margin)",
        )
    if job.uses_encoder and all(ld.encoder_free() <= 0 for ld in serving):
        limit = sum(ld.gpu.encoder_limit for ld in serving)
        return Waiting(
            job.id,
            position,
            "NVENC_SESSIONS",
            f"NVENC_SESSIONS: all {limit} encoder sessions of the serving GPUs are in use",
        )
    best = max(serving, key=lambda ld: ld.usable_mib(margin))
    if best.jobs >= best.gpu.slots and job.vram_required <= best.usable_mib(margin):
        return Waiting(
            job.id,
            position,
            "SLOTS_BUSY",
            f"SLOTS_BUSY: GPUs with room have all their job slots busy "
            f"({best.gpu.host}/{best.gpu.uuid}: {best.jobs}/{best.gpu.slots})",
        )
    available = max(0, best.usable_mib(margin))
    return Waiting(
        job.id,
        position,
        "RESOURCES_VRAM",
        f"RESOURCES_VRAM: needs {job.vram_required} MiB; best GPU {best.gpu.host}/"
        f"{best.gpu.uuid} has {available} MiB available ({best.reserved_mib} reserved by "
        f"{best.jobs} job{'s' if best.jobs != 1 else ''}, {best.gpu.foreign_mib} used by "
        f"other processes)",
    )


def plan_all(
    pending_by_class: dict[str, Sequence[PendingJob]],
    live: Sequence[LiveJob],
    capacity: Capacity,
    now: datetime,
    margin_mib: int,
) -> Plan:
    """Plan every GPU class against one shared ledger."""
    ledgers = build_ledgers(capacity.gpus, live)
    admitted: list[Placement] = []
    waiting: list[Waiting] = []
    for class_name in ("gpu_ai", "gpu_encode"):
        plan = plan_gpu_class(
            class_name, pending_by_class.get(class_name, ()), ledgers, now, margin_mib
        )
        admitted.extend(plan.admitted)
        waiting.extend(plan.waiting)
    return Plan(tuple(admitted), tuple(waiting))
