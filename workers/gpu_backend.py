"""The NVML backend interface and the values it returns.

Two implementations: ``workers.nvml_real`` (nvidia-ml-py) and ``workers.nvml_fake`` (from
``MEDIAQ_FAKE_GPUS``), with the same contract; ``open_backend`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_mib: int


@dataclass(frozen=True)
class GpuSnapshot:
    """One GPU at one moment, as NVML reports it (MiB)."""

    uuid: str
    index: int
    name: str
    total_mib: int
    free_mib: int
    used_mib: int
    processes: tuple[GpuProcess, ...] = ()
    encoder_sessions: int = 0
    encoder_capacity: int | None = None
    healthy: bool = True

    def foreign_mib(self, our_pids: frozenset[int]) -> int:
        """Memory held by processes that are not ours."""
        return sum(p.used_mib for p in self.processes if p.pid not in our_pids)


class GpuBackend(Protocol):
    """What the daemon needs from NVML; one instance (one NVML session) per host daemon."""

    def device_count(self) -> int: ...

    def snapshot(self) -> list[GpuSnapshot]:
        """Every visible GPU; a lost GPU is returned with ``healthy=False``."""
        ...

    def sample(self, uuid: str) -> GpuSnapshot | None:
        """One GPU by UUID, or None when NVML no longer finds it."""
        ...

    def close(self) -> None: ...


class NoGpus:
    """The backend of a host without GPUs (NVML library not found)."""

    def device_count(self) -> int:
        return 0

    def snapshot(self) -> list[GpuSnapshot]:
        return []

    def sample(self, uuid: str) -> GpuSnapshot | None:
        return None

    def close(self) -> None:
        return None


def open_backend(fake_gpus: tuple[int, ...], host_name: str) -> GpuBackend:
    """The fake backend when fake GPUs are configured, else real NVML, else no GPUs."""
    if fake_gpus:
        from workers.nvml_fake import FakeNvml

        return FakeNvml.from_sizes(fake_gpus, host_name)
    from workers.nvml_real import RealNvml, nvml_available

    if nvml_available():
        return RealNvml()
    return NoGpus()
