"""The preflight: the verdict on fresh numbers, and the daemon's unix-socket endpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mediaq.preflightwire import PreflightUnavailable, ask_daemon
from mediaq.settings import Settings
from tasks.preflight import GpuNow, OtherJobs, preflight_verdict
from workers.daemon import HostDaemon
from workers.nvml_fake import FakeNvml
from workers.preflight_service import PreflightService


def now(free: int, foreign: int, used: int | None = None, total: int = 16384) -> GpuNow:
    return GpuNow("GPU-a", "gpu-1", total, free, total - free if used is None else used, foreign)


def test_a_job_whose_memory_is_still_there_passes() -> None:
    assert preflight_verdict(8000, now(free=16384, foreign=0), OtherJobs()) is None
    # exactly what is left after the other reservations: still fits (no margin here)
    assert preflight_verdict(8384, now(free=16384, foreign=0), OtherJobs(8000, 1, 0)) is None


def test_memory_taken_by_another_process_is_refused_with_the_numbers() -> None:
    verdict = preflight_verdict(12288, now(free=8384, foreign=8000), OtherJobs())
    assert verdict == (
        "PREFLIGHT_FAILED: needs 12288 MiB; GPU gpu-1/GPU-a has 8384 MiB available now "
        "(free 8384 of 16384 MiB, 8000 used by other processes, 0 reserved by 0 other jobs)"
    )


def test_other_reservations_count_even_before_their_jobs_allocate() -> None:
    # a queued job holds 6000 MiB it has not allocated yet: free memory alone would lie
    verdict = preflight_verdict(12000, now(free=16384, foreign=0), OtherJobs(6000, 1, 0))
    assert verdict is not None and "6000 reserved by 1 other job)" in verdict


def test_used_memory_beyond_our_running_jobs_is_foreign() -> None:
    # no foreign process visible, but 'used' is 9000 while our running job reserved 4000
    gpu = now(free=7384, foreign=0, used=9000)
    verdict = preflight_verdict(8000, gpu, OtherJobs(4000, 1, 4000))
    assert verdict is not None and "5000 used by other processes" in verdict


@pytest.fixture
def fake() -> FakeNvml:
    return FakeNvml.from_sizes((16384,), "pf-host")


def test_the_daemon_answers_fresh_samples_over_its_socket(tmp_path: Path, fake: FakeNvml) -> None:
    uuid = fake.uuids()[0]
    daemon = HostDaemon(Settings(host_name="pf-host"), backend=fake)
    service = PreflightService(tmp_path / "pf.sock", daemon.sample)
    service.start()
    try:
        fake.allocate_foreign(uuid, 3000)
        reply = ask_daemon(service.path, uuid)
        assert reply == {
            "uuid": uuid,
            "host": "pf-host",
            "totalMib": 16384,
            "freeMib": 13384,
            "usedMib": 3000,
            "foreignMib": 3000,
        }
        assert ask_daemon(service.path, "GPU-unknown") is None
        fake.lose(uuid)
        assert ask_daemon(service.path, uuid) is None
        # many workers asking at once
        answers: list[object] = []
        fake.lose(uuid, lost=False)
        threads = [
            threading.Thread(target=lambda: answers.append(ask_daemon(service.path, uuid)))
            for _ in range(32)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == 32 and all(a is not None for a in answers)
    finally:
        service.stop()
    assert not service.path.exists()


def test_no_daemon_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(PreflightUnavailable):
        ask_daemon(tmp_path / "nobody.sock", "GPU-a", timeout_s=0.5)


def test_a_stale_socket_file_is_replaced(tmp_path: Path, fake: FakeNvml) -> None:
    path = tmp_path / "pf.sock"
    path.write_text("left by a daemon that died")
    service = PreflightService(path, lambda uuid: {"uuid": uuid})
    service.start()
    try:
        assert ask_daemon(path, "GPU-x") == {"uuid": "GPU-x"}
    finally:
        service.stop()
