"""The host daemon's Celery workers: one per GPU, pinned by UUID; NVML never in a worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mediaq.hostpaths import fake_gpu_state, preflight_socket
from mediaq.queues import cpu_queue, gpu_queue
from mediaq.settings import Settings, settings_to_env
from workers.celery_procs import worker_specs

ROOT = Path(__file__).resolve().parents[2]


def test_one_celery_worker_per_gpu_pinned_by_uuid_plus_a_cpu_worker() -> None:
    s = Settings(host_name="h1", queue_prefix="mq", concurrency=3, gpu_slots=2)
    specs = worker_specs(s, [(0, "GPU-aaa"), (1, "GPU-bbb")])
    by_name = {spec.name: spec for spec in specs}
    assert set(by_name) == {"cpu@h1", "gpu0@h1", "gpu1@h1"}
    cpu = by_name["cpu@h1"]
    assert (cpu.queue, cpu.concurrency, cpu.gpu_uuid) == (cpu_queue("mq"), 3, None)
    assert cpu.env["CUDA_VISIBLE_DEVICES"] == ""  # the CPU worker sees no GPU at all
    for index, uuid in ((0, "GPU-aaa"), (1, "GPU-bbb")):
        spec = by_name[f"gpu{index}@h1"]
        assert spec.queue == gpu_queue("mq", uuid)
        assert spec.concurrency == 2
        assert spec.gpu_uuid == uuid
        assert spec.env["CUDA_VISIBLE_DEVICES"] == uuid
        assert spec.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        assert spec.env["MEDIAQ_WORKER_GPU"] == uuid


def test_uuids_without_the_gpu_prefix_get_it_for_cuda() -> None:
    spec = worker_specs(Settings(classes=("gpu_ai",)), [(0, "3f2a-77")])[0]
    assert spec.env["CUDA_VISIBLE_DEVICES"] == "GPU-3f2a-77"


def test_a_cpu_only_host_starts_no_gpu_workers() -> None:
    specs = worker_specs(Settings(classes=("cpu",)), [(0, "GPU-aaa")])
    assert [s.gpu_uuid for s in specs] == [None]


def test_a_gpu_worker_process_never_loads_nvml() -> None:
    # The pool children are forked from it: NVML (and CUDA) must not be initialised there.
    env = settings_to_env(Settings(host_name="h1", worker_gpu="GPU-aaa"))
    code = (
        "import sys, tasks.worker_entry as w; "
        "assert w.app.tasks['mediaq.run_job'] is not None; "
        "print('pynvml' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_rendezvous_paths_are_per_host_short_and_safe() -> None:
    a, b = preflight_socket("gpu-1"), preflight_socket("gpu-2")
    assert a != b and a.parent == b.parent
    odd = preflight_socket("weird host/name:" + "x" * 200)
    assert len(str(odd).encode()) < 107 and "/" not in odd.name
    assert fake_gpu_state("gpu-1") != a
