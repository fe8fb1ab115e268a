"""A fake NVML with the real backend's interface, for hosts without GPUs and for tests.

``MEDIAQ_FAKE_GPUS=24576,81920`` makes two GPUs of 24 and 80 GiB. Tests (and operators
rehearsing) change them through a small JSON state file, ``MEDIAQ_FAKE_GPU_STATE``: foreign
allocations, encoder sessions, a lost GPU. The daemon re-reads it on every sample, so another
process can act on a running daemon's fake GPUs.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from workers.gpu_backend import GpuProcess, GpuSnapshot

FAKE_PID_BASE = 4_000_000  # pids no real process has: foreign allocations


@dataclass
class FakeGpu:
    uuid: str
    index: int
    total_mib: int
    name: str = "mediaq Fake GPU"
    foreign: dict[int, int] = field(default_factory=dict)  # pid -> MiB
    encoder_sessions: int = 0
    lost: bool = False


def fake_uuid(host_name: str, index: int) -> str:
    digest = hashlib.sha1(f"{host_name}/{index}".encode()).hexdigest()
    return f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


class FakeNvml:
    """Fake GPUs; safe to share between threads."""

    def __init__(self, gpus: list[FakeGpu], state_file: Path | None = None) -> None:
        self._gpus = {g.uuid: g for g in gpus}
        self._lock = threading.Lock()
        self.state_file = state_file

    @classmethod
    def from_sizes(cls, sizes: tuple[int, ...], host_name: str) -> FakeNvml:
        gpus = [FakeGpu(fake_uuid(host_name, i), i, size) for i, size in enumerate(sizes)]
        state = os.environ.get("MEDIAQ_FAKE_GPU_STATE")
        return cls(gpus, Path(state) if state else None)

    # ---- test API ------------------------------------------------------------------------
    def allocate_foreign(self, uuid: str, mib: int, pid: int | None = None) -> int:
        with self._lock:
            gpu = self._gpus[uuid]
            pid = pid or FAKE_PID_BASE + len(gpu.foreign) + 1
            gpu.foreign[pid] = mib
            return pid

    def free_foreign(self, uuid: str, pid: int | None = None) -> None:
        with self._lock:
            gpu = self._gpus[uuid]
            if pid is None:
                gpu.foreign.clear()
            else:
                gpu.foreign.pop(pid, None)

    def set_encoder_sessions(self, uuid: str, sessions: int) -> None:
        with self._lock:
            self._gpus[uuid].encoder_sessions = sessions

    def lose(self, uuid: str) -> None:
        with self._lock:
            self._gpus[uuid].lost = True

    def uuids(self) -> list[str]:
        return sorted(self._gpus, key=lambda u: self._gpus[u].index)

    # ---- backend interface ---------------------------------------------------------------
    def device_count(self) -> int:
        return len(self._gpus)

    def snapshot(self) -> list[GpuSnapshot]:
        self._load_state()
        with self._lock:
            return [self._snap(g) for g in sorted(self._gpus.values(), key=lambda g: g.index)]

    def sample(self, uuid: str) -> GpuSnapshot | None:
        self._load_state()
        with self._lock:
            gpu = self._gpus.get(uuid)
            if gpu is None or gpu.lost:
                return None
            return self._snap(gpu)

    def close(self) -> None:
        return None

    # ---- internals -----------------------------------------------------------------------
    @staticmethod
    def _snap(gpu: FakeGpu) -> GpuSnapshot:
        used = min(gpu.total_mib, sum(gpu.foreign.values()))
        return GpuSnapshot(
            uuid=gpu.uuid,
            index=gpu.index,
            name=gpu.name,
            total_mib=gpu.total_mib,
            free_mib=gpu.total_mib - used,
            used_mib=used,
            processes=tuple(GpuProcess(pid, mib) for pid, mib in gpu.foreign.items()),
            encoder_sessions=gpu.encoder_sessions,
            encoder_capacity=None,
            healthy=not gpu.lost,
        )

    def _load_state(self) -> None:
        """Apply the shared state file: ``{uuid: {"foreign": {pid: MiB}, ...}}``."""
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return
        with self._lock:
            for uuid, gpu_state in state.items():
                gpu = self._gpus.get(uuid)
                if gpu is None:
                    continue
                gpu.foreign = {int(k): int(v) for k, v in gpu_state.get("foreign", {}).items()}
                gpu.encoder_sessions = int(gpu_state.get("encoder_sessions", 0))
                gpu.lost = bool(gpu_state.get("lost", False))
