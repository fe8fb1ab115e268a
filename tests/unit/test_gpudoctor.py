"""The GPU half of ``mediaq doctor`` (``ops/gpudoctor.py``), on a scripted NVML and, where a
driver exists, on the real one. Like the NVML contract, it needs only pynvml and pytest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pynvml

from ops import gpudoctor
from ops.gpudoctor import NOTE, OK, PROBLEM, exit_code, ffmpeg_argv, gpu_report, read_nvml
from tests.unit.test_nvml_contract import ScriptedGpu, ScriptedNvml

DOCTOR = Path(__file__).resolve().parents[2] / "ops" / "gpudoctor.py"


class DriverNvml(ScriptedNvml):
    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.1"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 13000


def test_each_gpu_line_names_uuid_name_memory_and_encoder() -> None:
    nvml = DriverNvml(
        [
            ScriptedGpu("GPU-a", 81920, reserved_mib=512, free_mib=60000, sessions=1),
            ScriptedGpu("GPU-b", 16384, free_mib=16000, sessions=None),
        ]
    )
    checks, gpus = read_nvml(nvml)
    assert checks[0].status == OK and "driver 580.1, CUDA 13.0, 2 GPU(s)" in checks[0].detail
    assert [(g.uuid, g.total_mib, g.free_mib) for g in gpus] == [
        ("GPU-a", 81408, 60000),
        ("GPU-b", 16384, 16000),
    ]
    a, b = (g.checks[0].detail for g in gpus)
    assert "GPU-a Scripted GPU: 81408 MiB total, 60000 MiB free, NVENC capacity 100%" in a
    assert "1 session(s)" in a
    assert b.endswith("no NVENC")
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


def test_a_gpu_without_nvenc_gets_a_note_not_an_encode() -> None:
    nvml = DriverNvml([ScriptedGpu("GPU-b", 16384, free_mib=16000, sessions=None)])
    checks = gpu_report(nvml, software=False)
    assert [c.status for c in checks] == [OK, OK, NOTE]
    assert exit_code(checks) == 0


def test_no_driver_is_a_note_saying_what_the_host_can_do() -> None:
    nvml = DriverNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    checks, gpus = read_nvml(nvml)
    assert gpus == [] and [c.status for c in checks] == [NOTE]
    assert "cpu class" in checks[0].fix and "MEDIAQ_CPU_ONLY" in checks[0].fix


def test_an_unreadable_gpu_is_a_problem() -> None:
    nvml = DriverNvml([ScriptedGpu("GPU-a", 16384, free_mib=1, lost=True)])
    checks, gpus = read_nvml(nvml)
    assert gpus == [] and checks[-1].status == PROBLEM and exit_code(checks) == 1


def test_the_test_encode_is_one_second_to_nowhere() -> None:
    argv = ffmpeg_argv("libx264")
    assert "duration=1:size=1280x720:rate=30" in " ".join(argv)
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[-2:] == ["null", "-"]


def test_it_runs_as_a_plain_file_and_reports_every_gpu() -> None:
    """``python ops/gpudoctor.py``: one line per GPU NVML sees, an encode per NVENC GPU."""
    out = subprocess.run(
        [sys.executable, str(DOCTOR)], capture_output=True, text=True, timeout=300, check=False
    )
    print(out.stdout)  # the report, for whoever runs this on a GPU host
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        assert "no NVIDIA GPU" in out.stdout
    else:
        count = pynvml.nvmlDeviceGetCount()
        uuids = []
        for i in range(count):
            uuid = pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))
            uuids.append(uuid.decode() if isinstance(uuid, bytes) else uuid)
        pynvml.nvmlShutdown()
        assert f"{count} GPU(s)" in out.stdout
        for i, uuid in enumerate(uuids):
            assert f"gpu {i}" in out.stdout and uuid in out.stdout
    has_encoder = shutil.which("ffmpeg") is not None
    if has_encoder:
        assert "ok       encode libx264" in out.stdout, out.stdout + out.stderr
    assert out.returncode == (1 if "problem " in out.stdout else 0)


def test_nvenc_that_does_not_open_is_a_note_not_a_failed_host() -> None:
    """A100/H100/H200 report an encoder through NVML yet have no NVENC engine: the host
    still works (libx264 fallback), so the doctor notes it and does not exit 1 for it."""
    check = gpudoctor.test_encode("h264_nvenc_that_does_not_exist")
    assert check.status == PROBLEM  # any other encoder failing is a problem
    nvenc = gpudoctor.test_encode(gpudoctor.NVENC, "GPU-00000000-0000-0000-0000-000000000000")
    if nvenc.status != OK:  # no NVENC here (no GPU, or a GPU without the engine)
        assert nvenc.status == NOTE and "libx264" in nvenc.fix
        assert exit_code([nvenc]) == 0
