"""``mediaq up`` on a machine without a GPU: it says so, and a GPU job type enqueued from the
command line in another process runs on the CPU and completes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mediaq.settings import Settings
from tests.integration.fleet import query, scalar, wait_until
from tests.integration.uphelp import ROOT, UpProcess
from tests.media_fixtures import make_video


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_gpu_less_up_runs_a_cli_enqueued_reencode_on_the_cpu(
    settings: Settings, tmp_path: Path
) -> None:
    folder = Path(settings.library_root) / "videos"
    make_video(folder / "clip.mp4", seconds=1.0)
    with UpProcess(settings, tmp_path / "up.log", "--no-flower", unset=("MEDIAQ_CPU_ONLY",)) as up:
        up.wait_ready(90)
        assert "no GPU on this machine: GPU job types run on the CPU" in up.log()
        assert "GPU job types run on the CPU (MEDIAQ_CPU_ONLY=false" in up.log()  # the banner
        env = {k: v for k, v in up.env.items() if k != "MEDIAQ_CPU_ONLY"}

        scan = cli(env, "enqueue", "scan", "--param", f"root={folder}")
        assert scan.returncode == 0, scan.stderr
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=int(scan.stdout))
                == "completed"
            ),
            120,
            0.25,
            "the scan",
        )
        video_id = scalar(settings, "SELECT id FROM videos WHERE filename = 'clip.mp4'")

        made = cli(env, "enqueue", "reencode_streaming", "--param", f"videoId={video_id}")
        assert made.returncode == 0, made.stderr
        job_id = int(made.stdout)
        assert scalar(settings, "SELECT resource_category FROM jobs WHERE id = :i", i=job_id) == (
            "cpu"
        )
        final = wait_until(
            lambda: scalar(
                settings,
                "SELECT status FROM jobs WHERE id = :i AND status IN ('completed', 'failed')",
                i=job_id,
            ),
            180,
            0.25,
            "the re-encode",
        )
        row = query(settings, "SELECT log, result FROM jobs WHERE id = :i", i=job_id)[0]
        assert final == "completed", row.log
        assert "libx264" in row.log
