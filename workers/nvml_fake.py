"""A fake NVML with the real backend's interface, for hosts without GPUs and for tests.

``MEDIAQ_FAKE_GPUS=24576,81920`` makes two GPUs of 24 and 80 GiB. Their test API adds
foreign allocations and encoder sessions and loses (or restores) a GPU:

- in-process, on the ``FakeNvml`` object itself;
- on a running daemon, through ``FakeGpuControl(host_name)``, which edits a small JSON
  state file (``mediaq.hostpaths.fake_gpu_state``) that the fake re-reads on every
  snapshot and sample. Writes are atomic (write, then rename), so a reader never sees half
  a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaq.hostpaths import fake_gpu_state
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
    """A stable, real-looking UUID for fake GPU ``index`` of ``host_name``."""
    digest = hashlib.sha1(f"{host_name}/{index}".encode()).hexdigest()
    return f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


class FakeNvml:
    """Fake GPUs; safe to share between threads."""

    def __init__(self, gpus: list[FakeGpu], state_file: Path | None = None) -> None:
        self._gpus = {g.uuid: g for g in gpus}
        self._lock = threading.Lock()
        self.state_file = state_file

    @classmethod
    def from_sizes(
        cls, sizes: tuple[int, ...], host_name: str, state_file: Path | None = None
    ) -> FakeNvml:
        gpus = [FakeGpu(fake_uuid(host_name, i), i, size) for i, size in enumerate(sizes)]
        return cls(gpus, state_file)

    # ---- test API ------------------------------------------------------------------------
    def allocate_foreign(self, uuid: str, mib: int, pid: int | None = None) -> int:
        """Another process takes ``mib`` on the GPU; returns its (fake) pid."""
        with self._lock:
            gpu = self._gpus[uuid]
            pid = pid or FAKE_PID_BASE + len(gpu.foreign) + 1
            gpu.foreign[pid] = mib
            return pid

    def free_foreign(self, uuid: str, pid: int | None = None) -> None:
        """That process (or every foreign one) lets go of its memory."""
        with self._lock:
            gpu = self._gpus[uuid]
            if pid is None:
                gpu.foreign.clear()
            else:
                gpu.foreign.pop(pid, None)

    def set_encoder_sessions(self, uuid: str, sessions: int) -> None:
        with self._lock:
            self._gpus[uuid].encoder_sessions = sessions

    def lose(self, uuid: str, lost: bool = True) -> None:
        """The GPU falls off the bus (or, with ``lost=False``, comes back)."""
        with self._lock:
            self._gpus[uuid].lost = lost

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
        if gpu.lost:
            return GpuSnapshot(gpu.uuid, gpu.index, gpu.name, gpu.total_mib, 0, 0, healthy=False)
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
            healthy=True,
        )

    def _load_state(self) -> None:
        """Apply the shared state file, ``{uuid: {"foreign": {pid: MiB}, ...}}``, when there is
        one: a GPU it does not name is pristine."""
        state = read_state(self.state_file)
        if state is None:
            return
        with self._lock:
            for gpu in self._gpus.values():
                gpu_state = state.get(gpu.uuid, {})
                gpu.foreign = {int(k): int(v) for k, v in gpu_state.get("foreign", {}).items()}
                gpu.encoder_sessions = int(gpu_state.get("encoder_sessions", 0))
                gpu.lost = bool(gpu_state.get("lost", False))


def read_state(path: Path | None) -> dict[str, Any] | None:
    """The state file's content; None when there is none (or it cannot be read now)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class FakeGpuControl:
    """Acts on the fake GPUs of a running daemon (another process) through its state file."""

    def __init__(self, host_name: str, path: Path | None = None) -> None:
        self.host_name = host_name
        self.path = path or fake_gpu_state(host_name)
        self._next_pid = FAKE_PID_BASE + 1000

    def uuid(self, index: int) -> str:
        return fake_uuid(self.host_name, index)

    def allocate_foreign(self, uuid: str, mib: int) -> int:
        self._next_pid += 1
        pid = self._next_pid
        self._edit(uuid, lambda g: g.setdefault("foreign", {}).__setitem__(str(pid), mib))
        return pid

    def free_foreign(self, uuid: str, pid: int | None = None) -> None:
        def free(g: dict[str, Any]) -> None:
            if pid is None:
                g["foreign"] = {}
            else:
                g.setdefault("foreign", {}).pop(str(pid), None)

        self._edit(uuid, free)

    def set_encoder_sessions(self, uuid: str, sessions: int) -> None:
        self._edit(uuid, lambda g: g.__setitem__("encoder_sessions", sessions))

    def lose(self, uuid: str, lost: bool = True) -> None:
        self._edit(uuid, lambda g: g.__setitem__("lost", lost))

    def reset(self) -> None:
        """Every fake GPU back to pristine (no foreign memory or sessions, none lost)."""
        self._write({})

    def remove(self) -> None:
        """Delete the state file (the daemon's fakes keep their last state)."""
        self.path.unlink(missing_ok=True)

    def _edit(self, uuid: str, change: Any) -> None:
        state = read_state(self.path) or {}
        change(state.setdefault(uuid, {}))
        self._write(state)

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)
