"""What one ``/metrics`` scrape and one dashboard refresh cost over a large jobs table.

    .venv/bin/python -m bench.metrics_scrape [--jobs 100000] [--pending 2000] [--runs 15]

Fills a scratch database with ``--jobs`` finished jobs (mixed classes, started 0-600 s after
creation), ``--pending`` pending ones with waiting codes, 20 running on 12 GPUs of 6 hosts,
then times (median and max of ``--runs``):

1. ``read_snapshot`` + ``render`` (a whole scrape, without HTTP);
2. the dashboard feed's queries (``queue_overview`` + the pending heads + the active jobs).

Uses its own scratch database (created and dropped).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from api_shim.dashboard import active_jobs, pending_heads
from bench.engine_throughput import REDIS_URL, drop_database, scratch_database
from mediaq.db import engine_for
from mediaq.metrics import read_snapshot, redis_client, render
from mediaq.queueview import queue_overview
from mediaq.settings import Settings

FILL = """
INSERT INTO jobs (type, status, resource_category, vram_required, created_at, started_at,
                  completed_at, progress)
SELECT 'noop', 'completed', (ARRAY['cpu', 'gpu_encode', 'gpu_ai'])[1 + i % 3],
       CASE WHEN i % 3 = 0 THEN 0 ELSE 1024 END,
       now() - make_interval(secs => i), now() - make_interval(secs => i) + make_interval(
           secs => (i * 7919) % 600), now(), 100
  FROM generate_series(1, :n) AS i
"""
PENDING = """
INSERT INTO jobs (type, status, resource_category, vram_required, waiting_code,
                  waiting_reason, queue_position, priority)
SELECT 'noop', 'pending', (ARRAY['cpu', 'gpu_encode', 'gpu_ai'])[1 + i % 3],
       CASE WHEN i % 3 = 0 THEN 0 ELSE 4096 END,
       (ARRAY['PRIORITY', 'RESOURCES_VRAM', 'SLOTS_BUSY'])[1 + i % 3],
       'PRIORITY: some jobs ahead', i / 3 + 1, i % 7
  FROM generate_series(1, :n) AS i
"""


def fill(url: str, jobs: int, pending: int) -> None:
    with engine_for(url).begin() as conn:
        conn.execute(text(FILL), {"n": jobs})
        conn.execute(text(PENDING), {"n": pending})
        for h in range(6):
            conn.execute(
                text(
                    "INSERT INTO worker_hosts (name, classes, cpu_slots, gpu_slots)"
                    ' VALUES (:n, \'["cpu", "gpu_ai", "gpu_encode"]\'::jsonb, 4, 4)'
                ),
                {"n": f"host-{h}"},
            )
            for g in range(2):
                conn.execute(
                    text(
                        "INSERT INTO gpus (uuid, host_name, index, name, total_mib, free_mib)"
                        " VALUES (:u, :h, :i, 'bench GPU', 24576, 20000)"
                    ),
                    {"u": f"GPU-{h}-{g}", "h": f"host-{h}", "i": g},
                )
        conn.execute(
            text(
                "INSERT INTO jobs (type, status, resource_category, vram_required, assigned_gpu,"
                " assigned_host, started_at, progress) SELECT 'noop', 'running', 'gpu_ai', 2048,"
                " 'GPU-' || (i % 6) || '-' || (i % 2), 'host-' || (i % 6), now(), 50"
                " FROM generate_series(1, 20) AS i"
            )
        )
        conn.execute(text("ANALYZE jobs"))


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm the pool and caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    name, url = scratch_database()
    try:
        settings = Settings(database_url=url, redis_url=REDIS_URL, queue_prefix="mqbench")
        fill(url, args.jobs, args.pending)
        engine = engine_for(url)
        client = redis_client(REDIS_URL)

        def scrape() -> object:
            with engine.connect() as conn:
                return render(read_snapshot(conn, settings, client))

        def dashboard() -> object:
            with Session(engine) as session, session.begin():
                conn = session.connection()
                return (
                    queue_overview(session, settings),
                    pending_heads(conn, 50),
                    active_jobs(conn),
                )

        size = len(scrape())  # type: ignore[arg-type]
        print(f"jobs table: {args.jobs} finished, {args.pending} pending, 20 running, 12 GPUs")
        median, worst = timed(scrape, args.runs)
        print(f"/metrics scrape:   median {median:.1f} ms, max {worst:.1f} ms ({size} bytes)")
        median, worst = timed(dashboard, args.runs)
        print(f"dashboard refresh: median {median:.1f} ms, max {worst:.1f} ms")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
