"""The NVML backend contract, run against the fake and, wherever NVML exists, the real one.

The real backend's contract tests skip only where ``pynvml.nvmlInit()`` fails (NVML
absent). Its error handling (memory v2, lost GPUs, a UUID gone, no NVENC) is exercised
everywhere through a scripted NVML module with pynvml's own error classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvml
import pytest

from workers.gpu_backend import GpuBackend, NoGpus, open_backend
from workers.nvml_fake import FakeGpuControl, FakeNvml, fake_uuid
from workers.nvml_real import MIB, RealNvml

UNKNOWN_UUID = "GPU-00000000-0000-0000-0000-000000000000"


def _real_backend() -> RealNvml:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"NVML absent: pynvml.nvmlInit() failed ({exc})")
    pynvml.nvmlShutdown()
    real = RealNvml.open()
    assert real is not None
    return real


@pytest.fixture(params=["fake", "real"])
def backend(request: pytest.FixtureRequest) -> Iterator[GpuBackend]:
    chosen: GpuBackend
    if request.param == "fake":
        chosen = FakeNvml.from_sizes((24576, 81920), "contract-host")
    else:
        chosen = _real_backend()
    yield chosen
    chosen.close()


# ---- the contract ------------------------------------------------------------------------
def test_every_gpu_is_listed_once_with_a_uuid_and_sane_memory(backend: GpuBackend) -> None:
    snaps = backend.snapshot()
    assert len(snaps) == backend.device_count() >= 1
    assert len({s.uuid for s in snaps}) == len(snaps)
    assert sorted(s.index for s in snaps) == list(range(len(snaps)))
    for s in snaps:
        assert s.uuid.startswith("GPU-")
        assert s.name
        assert s.healthy
        assert s.total_mib > 0
        assert 0 <= s.free_mib <= s.total_mib
        assert s.free_mib + s.used_mib == s.total_mib
        assert s.encoder_sessions >= 0
        assert all(p.pid > 0 and p.used_mib >= 0 for p in s.processes)


def test_a_gpu_can_be_sampled_by_uuid_and_an_unknown_uuid_is_none(backend: GpuBackend) -> None:
    for snap in backend.snapshot():
        again = backend.sample(snap.uuid)
        assert again is not None
        assert (again.uuid, again.index, again.total_mib) == (snap.uuid, snap.index, snap.total_mib)
    assert backend.sample(UNKNOWN_UUID) is None


def test_foreign_memory_is_what_processes_not_ours_hold(backend: GpuBackend) -> None:
    for snap in backend.snapshot():
        everyone = frozenset(p.pid for p in snap.processes)
        assert snap.foreign_mib(everyone) == 0
        assert snap.foreign_mib(frozenset()) == sum(p.used_mib for p in snap.processes)


def test_close_twice_is_harmless(backend: GpuBackend) -> None:
    backend.close()
    backend.close()


# ---- the fake's test API -----------------------------------------------------------------
def test_fake_foreign_allocations_take_free_memory_and_show_as_processes() -> None:
    fake = FakeNvml.from_sizes((16384,), "h")
    uuid = fake.uuids()[0]
    pid = fake.allocate_foreign(uuid, 6000)
    snap = fake.sample(uuid)
    assert snap is not None
    assert (snap.free_mib, snap.used_mib, snap.foreign_mib(frozenset())) == (10384, 6000, 6000)
    fake.free_foreign(uuid, pid)
    assert fake.sample(uuid).free_mib == 16384  # type: ignore[union-attr]


def test_fake_encoder_sessions_and_a_lost_gpu() -> None:
    fake = FakeNvml.from_sizes((16384, 16384), "h")
    a, b = fake.uuids()
    fake.set_encoder_sessions(a, 2)
    fake.lose(b)
    snaps = {s.uuid: s for s in fake.snapshot()}
    assert snaps[a].encoder_sessions == 2
    assert not snaps[b].healthy and snaps[b].total_mib == 16384  # the UUID stays known
    assert fake.sample(b) is None
    fake.lose(b, lost=False)
    assert fake.sample(b) is not None


def test_fake_uuids_are_stable_per_host_and_index() -> None:
    assert fake_uuid("h", 0) == fake_uuid("h", 0) != fake_uuid("h", 1) != fake_uuid("g", 1)
    assert FakeNvml.from_sizes((1024,), "h").uuids() == [fake_uuid("h", 0)]


def test_another_process_acts_on_a_fake_through_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    fake = FakeNvml.from_sizes((16384, 8192), "h", state)
    control = FakeGpuControl("h", state)
    a, b = control.uuid(0), control.uuid(1)
    control.allocate_foreign(a, 4000)
    control.set_encoder_sessions(a, 1)
    control.lose(b)
    snaps = {s.uuid: s for s in fake.snapshot()}
    assert (snaps[a].used_mib, snaps[a].encoder_sessions) == (4000, 1)
    assert not snaps[b].healthy
    control.free_foreign(a)
    control.lose(b, lost=False)
    assert all(s.healthy and s.used_mib == 0 for s in fake.snapshot())
    control.allocate_foreign(b, 100)
    control.reset()
    assert all(s.used_mib == 0 and s.encoder_sessions == 0 for s in fake.snapshot())


def test_open_backend_prefers_fakes_then_nvml_then_no_gpus(tmp_path: Path) -> None:
    fake = open_backend((1024,), "h", tmp_path / "s.json")
    assert isinstance(fake, FakeNvml) and fake.device_count() == 1
    other = open_backend((), "h")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        assert isinstance(other, NoGpus)
        assert other.snapshot() == [] and other.sample(UNKNOWN_UUID) is None
    else:
        pynvml.nvmlShutdown()
        assert isinstance(other, RealNvml)
    other.close()


# ---- the real backend's error handling, on a scripted NVML -------------------------------
@dataclass
class Mem:
    total: int
    free: int
    used: int
    reserved: int = 0


@dataclass
class Proc:
    pid: int
    usedGpuMemory: int | None  # pynvml's field name


@dataclass
class ScriptedGpu:
    uuid: str
    total_mib: int
    reserved_mib: int = 0
    free_mib: int = 0
    compute: list[Proc] = field(default_factory=list)
    graphics: list[Proc] = field(default_factory=list)
    sessions: int | None = 0  # None: no NVENC
    lost: bool = False
    gone: bool = False


class ScriptedNvml:
    """Just enough of pynvml's surface, with pynvml's own error classes."""

    NVMLError = pynvml.NVMLError
    NVMLError_GpuIsLost = pynvml.NVMLError_GpuIsLost
    NVML_ENCODER_QUERY_H264 = pynvml.NVML_ENCODER_QUERY_H264

    def __init__(self, gpus: list[ScriptedGpu], v2: bool = True, init_error: int = 0) -> None:
        self.gpus = gpus
        self.v2 = v2
        self.init_error = init_error
        self.inits = 0
        self.shutdowns = 0
        if v2:
            self.nvmlMemory_v2 = pynvml.nvmlMemory_v2

    def _gpu(self, handle: ScriptedGpu) -> ScriptedGpu:
        if handle.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return handle

    def nvmlInit(self) -> None:
        if self.init_error:
            raise pynvml.NVMLError(self.init_error)
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len([g for g in self.gpus if not g.gone])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> ScriptedGpu:
        return [g for g in self.gpus if not g.gone][index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> ScriptedGpu:
        for g in self.gpus:
            if g.uuid == uuid and not g.gone:
                return g
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: ScriptedGpu) -> int:
        return [g for g in self.gpus if not g.gone].index(self._gpu(handle))

    def nvmlDeviceGetUUID(self, handle: ScriptedGpu) -> bytes:
        return self._gpu(handle).uuid.encode()

    def nvmlDeviceGetName(self, handle: ScriptedGpu) -> str:
        self._gpu(handle)
        return "Scripted GPU"

    def nvmlDeviceGetMemoryInfo(self, handle: ScriptedGpu, version: int | None = None) -> Mem:
        g = self._gpu(handle)
        total, free = g.total_mib * MIB, g.free_mib * MIB
        if version:
            if not self.v2:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            reserved = g.reserved_mib * MIB
            return Mem(total, free, total - reserved - free, reserved)
        return Mem(total, free, total - free)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: ScriptedGpu) -> list[Proc]:
        return self._gpu(handle).compute

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: ScriptedGpu) -> list[Proc]:
        return self._gpu(handle).graphics

    def nvmlDeviceGetEncoderStats(self, handle: ScriptedGpu) -> tuple[int, int, int]:
        g = self._gpu(handle)
        if g.sessions is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return (g.sessions, 0, 0)

    def nvmlDeviceGetEncoderCapacity(self, handle: ScriptedGpu, query: int) -> int:
        self._gpu(handle)
        return 100


def scripted(*gpus: ScriptedGpu, **kw: Any) -> tuple[RealNvml, ScriptedNvml]:
    nvml = ScriptedNvml(list(gpus), **kw)
    real = RealNvml.open(nvml)
    assert real is not None
    return real, nvml


def test_library_not_found_means_no_gpus() -> None:
    nvml = ScriptedNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    assert RealNvml.open(nvml) is None


def test_capacity_is_total_less_driver_reserved_memory_v2() -> None:
    real, _ = scripted(ScriptedGpu("GPU-a", 81920, reserved_mib=512, free_mib=60000))
    snap = real.snapshot()[0]
    assert (snap.total_mib, snap.free_mib, snap.used_mib) == (81408, 60000, 21408)


def test_older_drivers_without_memory_v2_fall_back_to_v1() -> None:
    real, _ = scripted(ScriptedGpu("GPU-a", 16384, free_mib=16000), v2=False)
    snap = real.snapshot()[0]
    assert (snap.total_mib, snap.free_mib, snap.used_mib) == (16384, 16000, 384)


def test_processes_from_compute_and_graphics_once_each_unknown_memory_as_zero() -> None:
    gpu = ScriptedGpu(
        "GPU-a",
        16384,
        free_mib=8000,
        compute=[Proc(10, 2048 * MIB), Proc(11, None)],
        graphics=[Proc(10, 2048 * MIB), Proc(12, 1024 * MIB)],
    )
    real, _ = scripted(gpu)
    snap = real.snapshot()[0]
    assert {(p.pid, p.used_mib) for p in snap.processes} == {(10, 2048), (11, 0), (12, 1024)}
    assert snap.foreign_mib(frozenset({10})) == 1024


def test_no_nvenc_means_zero_sessions_and_no_capacity() -> None:
    real, _ = scripted(ScriptedGpu("GPU-a", 16384, free_mib=1, sessions=None))
    snap = real.snapshot()[0]
    assert (snap.encoder_sessions, snap.encoder_capacity) == (0, None)


def test_a_lost_gpu_is_unhealthy_with_its_uuid_and_cannot_be_sampled() -> None:
    a = ScriptedGpu("GPU-a", 16384, free_mib=100)
    b = ScriptedGpu("GPU-b", 16384, free_mib=100)
    real, _ = scripted(a, b)
    b.lost = True
    snaps = {s.uuid: s for s in real.snapshot()}
    assert snaps["GPU-a"].healthy
    assert not snaps["GPU-b"].healthy
    assert real.sample("GPU-b") is None
    b.lost = False
    assert real.sample("GPU-b") is not None


def test_a_known_uuid_no_longer_found_is_excluded() -> None:
    a = ScriptedGpu("GPU-a", 16384, free_mib=100)
    b = ScriptedGpu("GPU-b", 16384, free_mib=100)
    real, _ = scripted(a, b)
    a.gone = True  # fell off the bus: NVML no longer lists it
    snaps = {s.uuid: s for s in real.snapshot()}
    assert not snaps["GPU-a"].healthy
    assert snaps["GPU-b"].healthy and snaps["GPU-b"].index == 0
    assert real.device_count() == 2


def test_one_nvml_session_per_daemon() -> None:
    real, nvml = scripted(ScriptedGpu("GPU-a", 16384, free_mib=100))
    for _ in range(5):
        real.snapshot()
        real.sample("GPU-a")
    real.close()
    real.close()
    assert (nvml.inits, nvml.shutdowns) == (1, 1)
