"""The real NVML backend on ``nvidia-ml-py`` (module ``pynvml``).

One NVML session per host daemon, initialised once in the daemon (``RealNvml.open``) and
never in a Celery worker or its forked pool children; they ask the daemon instead
(``workers.preflight_service``).

- Memory comes from ``nvmlDeviceGetMemoryInfo`` v2 where the driver has it: capacity is
  ``total - reserved`` (what the driver keeps for itself can never be allocated); ``used``
  is capacity less ``free``. Older drivers fall back to v1 (nothing reserved).
- Processes are the compute and graphics processes with their memory; their pids decide
  what is ours and what is foreign.
- Encoder: NVML's current session count and remaining capacity (percent).
- Errors become states: the library missing → ``open`` returns None (a host without GPUs);
  a GPU lost or a known UUID no longer found → that GPU comes back ``healthy=False`` from
  ``snapshot`` and None from ``sample``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from workers.gpu_backend import GpuProcess, GpuSnapshot

log = logging.getLogger(__name__)

MIB = 1024 * 1024


class RealNvml:
    """The GPUs of this host through NVML; thread-safe."""

    def __init__(self, nvml: Any) -> None:
        """Wrap an NVML module whose ``nvmlInit`` already succeeded (use ``open``)."""
        self._nvml = nvml
        self._lock = threading.Lock()
        self._closed = False
        self._known: dict[str, int] = {}  # uuid -> index, every GPU ever seen
        self._discover()

    @classmethod
    def open(cls, nvml: Any = None) -> RealNvml | None:
        """Start this host's one NVML session; None when NVML is absent (no GPUs here)."""
        if nvml is None:
            try:
                import pynvml
            except ImportError:
                log.info("nvidia-ml-py not installed: this host has no GPUs")
                return None
            nvml = pynvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            log.info("NVML unavailable (%s): this host has no GPUs", exc)
            return None
        return cls(nvml)

    # ---- backend interface ---------------------------------------------------------------
    def device_count(self) -> int:
        with self._lock:
            try:
                return max(int(self._nvml.nvmlDeviceGetCount()), len(self._known))
            except self._nvml.NVMLError:
                return len(self._known)

    def snapshot(self) -> list[GpuSnapshot]:
        self._discover()
        snaps = []
        with self._lock:
            known = sorted(self._known.items(), key=lambda item: item[1])
        for uuid, index in known:
            snap = self._read_uuid(uuid)
            snaps.append(snap if snap is not None else _lost(uuid, index))
        return snaps

    def sample(self, uuid: str) -> GpuSnapshot | None:
        return self._read_uuid(uuid)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as exc:
                log.warning("nvmlShutdown failed: %s", exc)

    # ---- internals -----------------------------------------------------------------------
    def _discover(self) -> None:
        """Learn the UUID of every GPU NVML lists (a GPU seen once stays known)."""
        nvml = self._nvml
        with self._lock:
            try:
                count = int(nvml.nvmlDeviceGetCount())
            except nvml.NVMLError as exc:
                log.warning("nvmlDeviceGetCount failed: %s", exc)
                return
            for index in range(count):
                try:
                    handle = nvml.nvmlDeviceGetHandleByIndex(index)
                    uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                except nvml.NVMLError as exc:
                    log.warning("GPU %d unreadable: %s", index, exc)
                    continue
                self._known.setdefault(uuid, index)

    def _read_uuid(self, uuid: str) -> GpuSnapshot | None:
        nvml = self._nvml
        with self._lock:
            try:
                handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
                index = int(nvml.nvmlDeviceGetIndex(handle))
                return self._read(handle, uuid, index)
            except nvml.NVMLError as exc:
                log.warning("GPU %s lost or gone: %s", uuid, exc)
                return None

    def _read(self, handle: Any, uuid: str, index: int) -> GpuSnapshot:
        nvml = self._nvml
        name = _text(nvml.nvmlDeviceGetName(handle))
        capacity, free = self._memory(handle)
        sessions, encoder_capacity = self._encoder(handle)
        return GpuSnapshot(
            uuid=uuid,
            index=index,
            name=name,
            total_mib=capacity // MIB,
            free_mib=free // MIB,
            used_mib=capacity // MIB - free // MIB,
            processes=self._processes(handle),
            encoder_sessions=sessions,
            encoder_capacity=encoder_capacity,
            healthy=True,
        )

    def _memory(self, handle: Any) -> tuple[int, int]:
        """Capacity (total less driver-reserved) and free, in bytes."""
        nvml = self._nvml
        version = getattr(nvml, "nvmlMemory_v2", None)
        if version is not None:
            try:
                info = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
                return int(info.total) - int(info.reserved), int(info.free)
            except nvml.NVMLError_GpuIsLost:
                raise
            except (nvml.NVMLError, TypeError, AttributeError):
                pass  # an older driver without v2: v1 below
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
        return int(info.total), int(info.free)

    def _processes(self, handle: Any) -> tuple[GpuProcess, ...]:
        """Compute and graphics processes with their memory (a pid appears once)."""
        nvml = self._nvml
        found: dict[int, int] = {}
        for query in (
            nvml.nvmlDeviceGetComputeRunningProcesses,
            nvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            try:
                processes = query(handle)
            except nvml.NVMLError_GpuIsLost:
                raise
            except nvml.NVMLError:
                continue
            for p in processes:
                # usedGpuMemory is None where NVML cannot tell (some containers, WDDM);
                # such memory still shows in "used", which the scheduler compares.
                mib = int(p.usedGpuMemory or 0) // MIB
                found[int(p.pid)] = max(found.get(int(p.pid), 0), mib)
        return tuple(GpuProcess(pid, mib) for pid, mib in sorted(found.items()))

    def _encoder(self, handle: Any) -> tuple[int, int | None]:
        nvml = self._nvml
        try:
            sessions = int(nvml.nvmlDeviceGetEncoderStats(handle)[0])
        except nvml.NVMLError_GpuIsLost:
            raise
        except nvml.NVMLError:
            return 0, None  # no NVENC on this GPU (or not supported by the driver)
        try:
            capacity = int(nvml.nvmlDeviceGetEncoderCapacity(handle, nvml.NVML_ENCODER_QUERY_H264))
        except nvml.NVMLError_GpuIsLost:
            raise
        except nvml.NVMLError:
            capacity = None
        return sessions, capacity


def _lost(uuid: str, index: int) -> GpuSnapshot:
    return GpuSnapshot(uuid, index, "lost", 0, 0, 0, healthy=False)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_available() -> bool:
    """True when the NVML library loads and initialises on this host (a probe; closes)."""
    real = RealNvml.open()
    if real is None:
        return False
    real.close()
    return True
