"""Re-encode speed as a multiple of real time: a 1080p test clip through ``reencode_streaming``.

Makes a 1920x1080 30 fps clip from ffmpeg's ``testsrc2`` with a sine tone, then runs the
real handler inline (claim, encoder choice, ffmpeg with progress, atomic rename, probe of
the output) on a throwaway database. Prints, per preset, the median wall time and the speed
(clip seconds per wall second). ``testsrc2`` is busier than most camera footage, so these
are conservative numbers for x264.

    .venv/bin/python bench/reencode_speed.py [--seconds 10] [--presets veryfast,medium] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tasks.handlers  # noqa: F401  (imported before timing: a worker has it loaded)
from bench.scan_speed import scratch_database, settings_for
from tests.media_fixtures import make_video, run_inline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--presets", default="veryfast,medium")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediaq-reencode-bench-") as tmp:
        root = Path(tmp)
        clip = make_video(
            root / "library" / "inbox" / "clip1080.mp4",
            args.seconds,
            1920,
            1080,
            fps=30,
            source="testsrc2",
        )
        with scratch_database() as url:
            settings = settings_for(url, root)
            scan = run_inline(settings, "scan", {})
            assert scan.status == "completed", scan.log
            size_mb = clip.stat().st_size / 1e6
            print(f"source: {args.seconds:.0f} s, 1920x1080, 30 fps, H.264+AAC ({size_mb:.1f} MB)")
            for preset in args.presets.split(","):
                walls, encoders = [], set()
                for _ in range(args.runs):
                    started = time.perf_counter()
                    run = run_inline(
                        settings, "reencode_streaming", {"videoId": 1, "preset": preset}
                    )
                    walls.append(time.perf_counter() - started)
                    if run.status != "completed" or run.result is None:
                        raise SystemExit(f"re-encode {run.status}: {run.log[-2000:]}")
                    encoders.add(run.result["encoder"])
                    Path(run.result["path"]).unlink()
                wall = statistics.median(walls)
                print(
                    f"  {','.join(sorted(encoders))} preset {preset:9s}: median {wall:6.2f} s wall "
                    f"= {args.seconds / wall:5.2f}x real time (runs: "
                    + ", ".join(f"{w:.2f}" for w in walls)
                    + ")"
                )


if __name__ == "__main__":
    main()
