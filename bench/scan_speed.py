"""Scan throughput: 1,000 small files (files/s), and one 2 GiB file (MB/s) against sha256sum.

Runs the real ``scan`` handler inline (the same claim / handler / outcome code a worker
runs, no broker) on a throwaway database cloned from the migrations. The small files are
one generated clip made distinct by a trailing MP4 ``free`` box each (so every file has its
own size and hash); the big file is a clip followed by a 2 GiB ``free`` box, so the scan
probes a real video and hashes 2 GiB.

    .venv/bin/python bench/scan_speed.py [--files 1000] [--big-gib 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

import tasks.handlers  # noqa: F401  (imported before timing: a worker has it loaded)
from mediaq.db import dispose_engines
from mediaq.migrate import upgrade_to_head
from mediaq.settings import Settings
from tasks.media.hashing import hash_file
from tests.media_fixtures import make_video, run_inline

ADMIN_URL = os.environ.get("MEDIAQ_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
MIB = 1024 * 1024


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"mq_bench_{uuid.uuid4().hex[:10]}"
    base = ADMIN_URL.rpartition("/")[0]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        upgrade_to_head(f"{base}/{name}")
        yield f"{base}/{name}"
    finally:
        dispose_engines()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def free_box(payload_size: int, fill: bytes = b"\0") -> bytes:
    return struct.pack(">I", 8 + payload_size) + b"free" + fill * payload_size


def settings_for(url: str, root: Path) -> Settings:
    return Settings(
        database_url=url,
        library_root=str(root / "library"),
        public_root=str(root / "library" / "public"),
        output_root=str(root / "library" / "output"),
        thumbnail_root=str(root / "thumbnails"),
        task_events=False,
    ).validated()


def timed_scan(settings: Settings) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    run = run_inline(settings, "scan", {})
    elapsed = time.perf_counter() - started
    if run.status != "completed" or run.result is None:
        raise SystemExit(f"scan {run.status}: {run.log[-2000:]}")
    return elapsed, run.result


def bench_small_files(count: int, workdir: Path) -> None:
    template = make_video(workdir / "template.mp4", 1, 160, 120)
    data = template.read_bytes()
    folder = workdir / "small" / "library" / "inbox"
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"clip-{i:05d}.mp4").write_bytes(data + free_box(8 + i, b"\1"))
    with scratch_database() as url:
        settings = settings_for(url, workdir / "small")
        first, result = timed_scan(settings)
        second, again = timed_scan(settings)
    print(f"small files: {count} x {len(data) / 1024:.0f} KiB clips (1 s, 160x120, H.264+AAC)")
    print(
        f"  first scan : {first:7.2f} s  {count / first:8.1f} files/s  "
        f"(inserted {result['inserted']}, hashed {result['hashedFiles']}, "
        f"thumbnails {result['thumbnails']})"
    )
    print(
        f"  rescan     : {second:7.2f} s  {count / second:8.1f} files/s  "
        f"(unchanged {again['unchanged']}, hashed {again['hashedFiles']})"
    )


def time_sha256sum(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True)
    return time.perf_counter() - started, out.stdout.split()[0]


def time_hash(path: Path) -> float:
    started = time.perf_counter()
    hash_file(path)
    return time.perf_counter() - started


def bench_big_file(gib: float, runs: int, workdir: Path) -> None:
    root = workdir / "big"
    folder = root / "library" / "inbox"
    folder.mkdir(parents=True)
    big = folder / "big.mp4"
    clip = make_video(workdir / "clip.mp4", 2, 320, 240).read_bytes()
    payload = int(gib * 1024 * MIB)
    block = os.urandom(64 * MIB)
    with open(big, "wb") as fh:
        fh.write(clip)
        fh.write(struct.pack(">I", 8 + payload) + b"free")
        left = payload
        while left:
            fh.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    size_mb = big.stat().st_size / 1e6
    subprocess.run(["cat", str(big)], check=True, stdout=subprocess.DEVNULL)  # warm the cache
    ours, theirs = [], []
    for _ in range(runs):
        elapsed, digest = time_sha256sum(big)
        theirs.append(elapsed)
        ours.append(time_hash(big))
    assert hash_file(big) == digest
    scans = []
    with scratch_database() as url:
        settings = settings_for(url, root)
        for _ in range(runs):
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("DELETE FROM videos")
            elapsed, result = timed_scan(settings)
            assert result["hashedBytes"] == big.stat().st_size
            scans.append(elapsed)
    med_ours, med_theirs, med_scan = (statistics.median(x) for x in (ours, theirs, scans))
    print(f"one file of {size_mb:.0f} MB (page cache warm), median of {runs}:")
    print(f"  sha256sum      : {size_mb / med_theirs:7.0f} MB/s  ({med_theirs:.2f} s)")
    print(
        f"  hash_file      : {size_mb / med_ours:7.0f} MB/s  ({med_ours:.2f} s)  "
        f"= {med_theirs / med_ours:.2f}x sha256sum"
    )
    print(
        f"  whole scan job : {size_mb / med_scan:7.0f} MB/s  ({med_scan:.2f} s)  "
        f"= {med_theirs / med_scan:.2f}x sha256sum"
    )
    big.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--big-gib", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediaq-scan-bench-") as tmp:
        workdir = Path(tmp)
        if args.files:
            bench_small_files(args.files, workdir)
        if args.big_gib:
            bench_big_file(args.big_gib, args.runs, workdir)


if __name__ == "__main__":
    main()
