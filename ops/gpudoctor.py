"""The GPU half of ``mediaq doctor``: what NVML sees, and a one-second test encode per GPU.

It imports only the standard library, ``pynvml`` (nvidia-ml-py) and the encoder it tests
(the ``ffmpeg`` program, or PyAV when ``ffmpeg`` is not on PATH), so it also runs on a new
GPU host that has nothing but the NVIDIA driver and Python::

    python3 ops/gpudoctor.py            # lines of "ok" / "note" / "problem"; exit 1 on a problem
    python3 ops/gpudoctor.py --json     # the same as one JSON document

Each NVENC encode runs in a child process that sees only its GPU (``CUDA_VISIBLE_DEVICES``
set to the GPU's UUID), exactly as mediaq's per-GPU Celery workers do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

MIB = 1024 * 1024
ENCODE_SECONDS = 1
ENCODE_SIZE = (1280, 720)
ENCODE_RATE = 30
ENCODE_TIMEOUT_S = 60.0
NVENC = "h264_nvenc"
SOFTWARE = "libx264"
OK, NOTE, PROBLEM = "ok", "note", "problem"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: str  # ok | note | problem
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<8} {self.name:<22} {self.detail}"
        return text + (f"\n{'':<8} {'':<22} -> {self.fix}" if self.fix else "")


@dataclass
class GpuInfo:
    index: int
    uuid: str
    name: str
    total_mib: int
    free_mib: int
    encoder_capacity: int | None  # NVML's H.264 encoder capacity, percent; None: no NVENC
    encoder_sessions: int
    checks: list[Check] = field(default_factory=list)


# ---- NVML -------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _memory(nvml: Any, handle: Any) -> tuple[int, int]:
    """Total (less driver-reserved where the driver says) and free, in MiB."""
    version = getattr(nvml, "nvmlMemory_v2", None)
    if version is not None:
        try:
            info = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
            return (int(info.total) - int(info.reserved)) // MIB, int(info.free) // MIB
        except (nvml.NVMLError, TypeError, AttributeError):
            pass
    info = nvml.nvmlDeviceGetMemoryInfo(handle)
    return int(info.total) // MIB, int(info.free) // MIB


def _encoder(nvml: Any, handle: Any) -> tuple[int | None, int]:
    try:
        sessions = int(nvml.nvmlDeviceGetEncoderStats(handle)[0])
    except nvml.NVMLError:
        return None, 0
    try:
        capacity = int(nvml.nvmlDeviceGetEncoderCapacity(handle, nvml.NVML_ENCODER_QUERY_H264))
    except nvml.NVMLError:
        return None, sessions
    return capacity, sessions


def read_nvml(nvml: Any = None) -> tuple[list[Check], list[GpuInfo]]:
    """What NVML sees: the driver and each GPU. No GPU at all is a note, not a problem."""
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[no-redef]
        except ImportError:
            return [
                Check(
                    "nvml",
                    PROBLEM,
                    "the pynvml module is not installed",
                    "pip install nvidia-ml-py (mediaq's worker needs it to see GPUs)",
                )
            ], []
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return [
            Check(
                "gpu",
                NOTE,
                f"no NVIDIA GPU: NVML did not start ({_text(exc)})",
                "this host can serve the cpu class only; for GPU classes install the NVIDIA "
                "driver, or run GPU job types on the CPU with MEDIAQ_CPU_ONLY=true",
            )
        ], []
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        try:
            cuda = nvml.nvmlSystemGetCudaDriverVersion()
            cuda_text = f", CUDA {cuda // 1000}.{cuda % 1000 // 10}"
        except (nvml.NVMLError, AttributeError):
            cuda_text = ""
        count = int(nvml.nvmlDeviceGetCount())
        checks = [Check("nvml", OK, f"driver {driver}{cuda_text}, {count} GPU(s)")]
        if count == 0:
            checks.append(Check("gpu", NOTE, "NVML runs but lists no GPU"))
        gpus: list[GpuInfo] = []
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            try:
                total, free = _memory(nvml, handle)
                capacity, sessions = _encoder(nvml, handle)
                info = GpuInfo(
                    index,
                    _text(nvml.nvmlDeviceGetUUID(handle)),
                    _text(nvml.nvmlDeviceGetName(handle)),
                    total,
                    free,
                    capacity,
                    sessions,
                )
            except nvml.NVMLError as exc:
                checks.append(
                    Check(
                        f"gpu {index}",
                        PROBLEM,
                        f"NVML cannot read it: {_text(exc)}",
                        "check `nvidia-smi`; a GPU that fell off the bus needs a reset or reboot",
                    )
                )
                continue
            encoder = (
                "no NVENC"
                if capacity is None
                else f"NVENC capacity {capacity}%, {sessions} session(s) open"
            )
            info.checks.append(
                Check(
                    f"gpu {index}",
                    OK,
                    f"{info.uuid} {info.name}: {info.total_mib} MiB total, "
                    f"{info.free_mib} MiB free, {encoder}",
                )
            )
            gpus.append(info)
        return checks, gpus
    finally:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()


# ---- test encodes ------------------------------------------------------------------------------
def ffmpeg_argv(encoder: str, ffmpeg: str = "ffmpeg") -> list[str]:
    """One second of a synthetic 720p30 picture, encoded and thrown away."""
    width, height = ENCODE_SIZE
    source = f"testsrc2=duration={ENCODE_SECONDS}:size={width}x{height}:rate={ENCODE_RATE}"
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        source,
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        encoder,
        "-f",
        "null",
        "-",
    ]


def _encode_with_pyav(encoder: str) -> None:
    """The same encode through PyAV's bundled FFmpeg (for hosts without the ffmpeg program)."""
    import av

    width, height = ENCODE_SIZE
    codec: Any = av.CodecContext.create(encoder, "w")  # a VideoCodecContext at run time
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.framerate = Fraction(ENCODE_RATE)
    codec.time_base = Fraction(1, ENCODE_RATE)
    codec.open()
    for n in range(ENCODE_SECONDS * ENCODE_RATE):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(n * 7) % 256]) * plane.buffer_size)
        frame.pts = n
        codec.encode(frame)
    codec.encode(None)


def encoder_program() -> str | None:
    """What will run the test encode: ``ffmpeg`` on PATH, else PyAV, else None."""
    if shutil.which("ffmpeg"):
        return "ffmpeg"
    try:
        import av  # noqa: F401
    except ImportError:
        return None
    return "pyav"


def test_encode(encoder: str, gpu_uuid: str | None = None, label: str = "") -> Check:
    """Encode one second with ``encoder`` in a child process (seeing only ``gpu_uuid``)."""
    name = f"encode {encoder}" + (f" {label}" if label else "")
    program = encoder_program()
    if program is None:
        return Check(
            name,
            PROBLEM,
            "neither the ffmpeg program nor PyAV is installed",
            "install ffmpeg (Debian: apt-get install ffmpeg); the workers run it",
        )
    env = dict(os.environ)
    if gpu_uuid is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu_uuid
    if program == "ffmpeg":
        argv = ffmpeg_argv(encoder)
    else:
        argv = [sys.executable, os.path.abspath(__file__), "--encode-in-process", encoder]
    started = time.monotonic()
    try:
        out = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=ENCODE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return Check(name, PROBLEM, f"no result after {ENCODE_TIMEOUT_S:.0f} s")
    elapsed = time.monotonic() - started
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit code {out.returncode}"
        fix = (
            "NVML lists an encoder, but NVENC did not open: the GPU may have no NVENC engine "
            "(A100, H100 and H200 have none), or the driver's libnvidia-encode is missing (in "
            "containers: NVIDIA_DRIVER_CAPABILITIES=compute,video,utility). Encodes on this "
            "GPU fall back to libx264; its gpu_encode slots still take jobs"
            if encoder == NVENC
            else "install an ffmpeg built with libx264 (Debian's ffmpeg package is)"
        )
        # A GPU without a working NVENC still serves gpu_encode (libx264) and gpu_ai: a note.
        status = NOTE if encoder == NVENC else PROBLEM
        return Check(name, status, f"failed with {program}: {why}", fix)
    width, height = ENCODE_SIZE
    speed = ENCODE_SECONDS / elapsed if elapsed > 0 else 0.0
    return Check(
        name,
        OK,
        f"{ENCODE_SECONDS} s of {width}x{height}@{ENCODE_RATE} in {elapsed:.2f} s "
        f"({speed:.1f}x real time, {program})",
    )


# ---- the report --------------------------------------------------------------------------------
def gpu_report(nvml: Any = None, software: bool = True) -> list[Check]:
    """Every GPU line, an NVENC encode on each GPU, and (``software``) a libx264 encode."""
    checks, gpus = read_nvml(nvml)
    for gpu in gpus:
        checks += gpu.checks
        if gpu.encoder_capacity is None:
            checks.append(
                Check(
                    f"encode {NVENC} gpu {gpu.index}",
                    NOTE,
                    "NVML reports no NVENC on this GPU; encodes on it use libx264",
                )
            )
        else:
            checks.append(test_encode(NVENC, gpu.uuid, f"gpu {gpu.index}"))
    if software:
        checks.append(test_encode(SOFTWARE))
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 when nothing is a problem, 1 otherwise."""
    return 1 if any(c.status == PROBLEM for c in checks) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpudoctor", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--encode-in-process", metavar="ENCODER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.encode_in_process:
        _encode_with_pyav(args.encode_in_process)
        return 0
    checks = gpu_report()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
