"""What the real NVML backend reports while another process holds GPU memory and NVENC runs.

For a machine with a real NVIDIA GPU (it needs only ``pynvml``; PyTorch or CuPy, where
present, allocates the "foreign" memory; PyAV runs the NVENC encode)::

    python3 bench/gpu_reality.py            # one JSON document on stdout

It checks the two inputs of admission that the fake backend can only imitate:

- memory held by a process that is not ours shows in ``used_mib`` and, where the driver
  lists processes in this PID namespace, in ``foreign_mib`` for that process's PID;
- a running NVENC encode shows in ``encoder_sessions``.

Nothing here is asserted: it prints what the hardware said, to be read by a person.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.nvml_real import RealNvml

HOLD_GIB = 8

ALLOCATE = f"""
import sys, time
try:
    import torch
    block = torch.empty({HOLD_GIB} * 1024**3, dtype=torch.uint8, device="cuda")
    block.fill_(1)
    torch.cuda.synchronize()
except ImportError:
    import cupy
    block = cupy.ones({HOLD_GIB} * 1024**3, dtype=cupy.uint8)
print("held", flush=True)
time.sleep(60)
"""

ENCODE = """
import sys, av
from fractions import Fraction
codec = av.CodecContext.create("h264_nvenc", "w")
codec.width, codec.height, codec.pix_fmt = 1920, 1080, "yuv420p"
codec.framerate = Fraction(30); codec.time_base = Fraction(1, 30)
codec.open()
print("encoding", flush=True)
frame = av.VideoFrame(1920, 1080, "yuv420p")
for n in range(30 * 60):
    frame.pts = n
    codec.encode(frame)
codec.encode(None)
"""


def _snap(nvml: RealNvml) -> dict[str, Any]:
    s = nvml.snapshot()[0]
    return {
        "uuid": s.uuid,
        "name": s.name,
        "total_mib": s.total_mib,
        "free_mib": s.free_mib,
        "used_mib": s.used_mib,
        "processes": [(p.pid, p.used_mib) for p in s.processes],
        "encoder_sessions": s.encoder_sessions,
        "encoder_capacity": s.encoder_capacity,
        "healthy": s.healthy,
    }


def _with_child(code: str, ready: str, nvml: RealNvml, key: str) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out: dict[str, Any] = {"child_pid": child.pid}
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        out["child_said"] = line
        if line != ready:
            out["child_error"] = child.stderr.read()[-2000:] if child.stderr else ""
            return out
        time.sleep(1.5)
        snap = _snap(nvml)
        out[key] = snap
        gpu = nvml.snapshot()[0]
        out["foreign_mib_if_child_is_foreign"] = gpu.foreign_mib(frozenset())
        out["foreign_mib_if_child_is_ours"] = gpu.foreign_mib(frozenset({child.pid}))
        return out
    finally:
        child.kill()
        child.wait()


def main() -> int:
    nvml = RealNvml.open()
    if nvml is None:
        print(json.dumps({"nvml": "absent"}))
        return 1
    report: dict[str, Any] = {"pid_namespace_pid1": os.getpid(), "before": _snap(nvml)}
    report["holding"] = _with_child(ALLOCATE, "held", nvml, "while_holding")
    time.sleep(1)
    report["after_release"] = _snap(nvml)
    report["encoding"] = _with_child(ENCODE, "encoding", nvml, "while_encoding")
    nvml.close()
    before = report["before"]["used_mib"]
    held = report["holding"].get("while_holding", {}).get("used_mib")
    report["used_delta_mib_while_holding"] = None if held is None else held - before
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
