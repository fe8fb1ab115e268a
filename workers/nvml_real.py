"""The real NVML backend on ``nvidia-ml-py`` (module ``pynvml``).

One NVML session per host daemon, initialised once, never before a fork. Memory comes from
``nvmlDeviceGetMemoryInfo`` (v2 where the driver has it, so ``total`` excludes what the
driver reserves); admission uses free, never used. A GPU that NVML reports lost, or whose
UUID it no longer finds, comes back unhealthy / None.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from workers.gpu_backend import GpuProcess, GpuSnapshot

log = logging.getLogger(__name__)

MIB = 1024 * 1024


def nvml_available() -> bool:
    """True when the NVML library loads and initialises on this host."""
    try:
        import pynvml
    except ImportError:
        return False
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


class RealNvml:
    def __init__(self) -> None:
        import pynvml

        self._nvml: Any = pynvml
        self._lock = threading.Lock()
        pynvml.nvmlInit()

    def device_count(self) -> int:
        with self._lock:
            return int(self._nvml.nvmlDeviceGetCount())

    def snapshot(self) -> list[GpuSnapshot]:
        snaps = []
        for index in range(self.device_count()):
            with self._lock:
                try:
                    handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
                    snaps.append(self._read(handle, index))
                except self._nvml.NVMLError as exc:
                    log.warning("GPU %d unreadable: %s", index, exc)
                    snaps.append(self._lost(index))
        return snaps

    def sample(self, uuid: str) -> GpuSnapshot | None:
        with self._lock:
            try:
                handle = self._nvml.nvmlDeviceGetHandleByUUID(uuid)
                index = int(self._nvml.nvmlDeviceGetIndex(handle))
                snap = self._read(handle, index)
            except self._nvml.NVMLError:
                return None
        return snap if snap.healthy else None

    def close(self) -> None:
        with self._lock:
            self._nvml.nvmlShutdown()

    # ---- internals -----------------------------------------------------------------------
    def _read(self, handle: Any, index: int) -> GpuSnapshot:
        nvml = self._nvml
        uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        name = _text(nvml.nvmlDeviceGetName(handle))
        memory = self._memory(handle)
        processes: tuple[GpuProcess, ...] = ()
        try:
            processes = tuple(
                GpuProcess(int(p.pid), int((p.usedGpuMemory or 0) // MIB))
                for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)
            )
        except nvml.NVMLError:
            processes = ()
        sessions, capacity = 0, None
        try:
            sessions = int(nvml.nvmlDeviceGetEncoderStats(handle)[0])
            capacity = int(nvml.nvmlDeviceGetEncoderCapacity(handle, nvml.NVML_ENCODER_QUERY_H264))
        except nvml.NVMLError:
            pass
        return GpuSnapshot(
            uuid=uuid,
            index=index,
            name=name,
            total_mib=int(memory.total // MIB),
            free_mib=int(memory.free // MIB),
            used_mib=int(memory.used // MIB),
            processes=processes,
            encoder_sessions=sessions,
            encoder_capacity=capacity,
            healthy=True,
        )

    def _memory(self, handle: Any) -> Any:
        nvml = self._nvml
        version = getattr(nvml, "nvmlMemory_v2", None)
        if version is not None:
            try:
                return nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
            except (nvml.NVMLError, TypeError):
                pass
        return nvml.nvmlDeviceGetMemoryInfo(handle)

    @staticmethod
    def _lost(index: int) -> GpuSnapshot:
        return GpuSnapshot(
            uuid=f"lost-{index}",
            index=index,
            name="lost",
            total_mib=0,
            free_mib=0,
            used_mib=0,
            healthy=False,
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
