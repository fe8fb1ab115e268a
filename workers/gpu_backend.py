"""The NVML backend interface and the values it returns.

Two implementations: ``workers.nvml_real`` (nvidia-ml-py) and ``workers.nvml_fake`` (from
``MEDIAQ_FAKE_GPUS``), with the same contract; ``open_backend`` picks one. The contract:

- ``total_mib`` is the GPU's *capacity*: total memory less what the driver reserves
  (NVML's memory v2 where the driver has it); ``free_mib + used_mib == total_mib``.
- Admission works from ``free`` and from the memory of processes that are not ours, never
  from ``used`` alone.
- A GPU NVML reports lost, or a known UUID it no longer finds, comes back in
  ``snapshot()`` with ``healthy=False`` (its UUID kept) and ``sample()`` returns None.
- A host whose NVML library is missing has no GPUs (``NoGpus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
    total_mib: int  # capacity: total less the driver's reserved memory
    free_mib: int
    used_mib: int
    processes: tuple[GpuProcess, ...] = ()
    encoder_sessions: int = 0
    encoder_capacity: int | None = None  # NVML's remaining encoder capacity, percent
    healthy: bool = True

    def foreign_mib(self, our_pids: frozenset[int]) -> int:
        """Memory held by processes that are not ours.

        Memory that no visible process owns (other containers, the driver) shows only in
        ``used``; the scheduler adds it by comparing ``used`` with its own reservations.
        """
        return sum(p.used_mib for p in self.processes if p.pid not in our_pids)


class GpuBackend(Protocol):
    """What the daemon needs from NVML; one instance (one NVML session) per host daemon."""

    def device_count(self) -> int:
        """How many GPUs this host has (lost ones included)."""
        ...

    def snapshot(self) -> list[GpuSnapshot]:
        """Every known GPU; a lost one is returned with ``healthy=False``."""
        ...

    def sample(self, uuid: str) -> GpuSnapshot | None:
        """One GPU by UUID, fresh; None when NVML lost it or no longer finds it."""
        ...

    def close(self) -> None:
        """End the NVML session."""
        ...


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


def open_backend(
    fake_gpus: tuple[int, ...], host_name: str, state_file: Path | None = None
) -> GpuBackend:
    """The fake backend when fake GPUs are configured, else real NVML, else no GPUs."""
    if fake_gpus:
        from mediaq.hostpaths import fake_gpu_state
        from workers.nvml_fake import FakeNvml

        return FakeNvml.from_sizes(fake_gpus, host_name, state_file or fake_gpu_state(host_name))
    from workers.nvml_real import RealNvml

    real = RealNvml.open()
    return real if real is not None else NoGpus()
