"""Plain values the pure planning core works on (no I/O anywhere in here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PendingJob:
    """A pending job as admission sees it, in its class's exact order."""

    id: int
    resource_category: str
    priority: int
    created_at: datetime
    vram_required: int = 0
    uses_encoder: bool = False
    held: bool = False
    not_before: datetime | None = None
    held_reason: str | None = None
    expected_s: float = 60.0  # how long it is expected to run (params or a per-type default)
    paused: str | None = None  # the PAUSED sentence when a pause covers its class or type


@dataclass(frozen=True)
class LiveJob:
    """A queued or running job: it holds a slot and, on a GPU, a reservation."""

    id: int
    resource_category: str
    status: str
    gpu_uuid: str | None = None
    vram_mib: int = 0
    uses_encoder: bool = False
    started_at: datetime | None = None
    expected_end: datetime | None = None  # when it is expected to release its reservation


@dataclass(frozen=True)
class GpuView:
    """One GPU of a live host, from its latest NVML snapshot."""

    uuid: str
    host: str
    index: int
    name: str
    total_mib: int
    free_mib: int
    foreign_mib: int
    slots: int
    encoder_limit: int
    encoder_sessions_foreign: int = 0
    healthy: bool = True
    classes: tuple[str, ...] = ("gpu_ai", "gpu_encode")
    draining: bool = False
    used_mib: int = 0  # NVML "used" (ours and foreign), to catch memory no process owns
    encoder_sessions: int = 0  # NVML encoder sessions, ours included


@dataclass(frozen=True)
class Capacity:
    """What the live fleet offers right now."""

    cpu_slots: int
    gpus: tuple[GpuView, ...] = ()
    offline_gpus: tuple[GpuView, ...] = ()  # registered, but host silent or GPU lost


@dataclass(frozen=True)
class Placement:
    job_id: int
    gpu_uuid: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class Waiting:
    """Why a pending job is not admitted: a short code and a sentence with numbers."""

    job_id: int
    position: int
    code: str
    reason: str


@dataclass(frozen=True)
class Plan:
    admitted: tuple[Placement, ...]
    waiting: tuple[Waiting, ...]
