"""Queue controls at scale: the operator's endpoints and the drain rate with a million finished
jobs in the table against an empty one, bulk cancel of 100,000 jobs beside gallery traffic, and
retention keeping the table bounded.

    flock /tmp/mediaq-bench.lock .venv/bin/python -m bench.steer_scale \
        [--finished 1000000] [--drain-jobs 2000] [--runs 15] [--bulk 100000] [--cycles 4]

1. endpoints (median of ``--runs`` after a warm-up, through a real uvicorn server):
   ``/metrics``, ``GET /api/jobs?limit=50``, ``?status=failed&limit=50``, ``/api/jobs/queue``,
   also on a table of 100 finished jobs (a list then shows a full page, as on the big one;
   the ratio of the endpoints is against that table);
2. drain: ``--drain-jobs`` noop jobs through a scheduler and one worker host (2 CPU slots),
   enqueue of the batch to the last completion;
   both on an empty table, then on the same schema with ``--finished`` finished jobs
   (90 % completed, 5 % failed, 5 % cancelled, with a log line each), retention off;
3. bulk cancel by filter of ``--bulk`` pending jobs, timed, while a client requests the
   public gallery in a loop (p50/p99 of those requests during the cancel, and before it);
4. retention: ``--cycles`` rounds of 100,000 jobs finishing and aging past their retention,
   each followed by the scheduler's pruning; the size of ``jobs`` and its indexes after each.

Uses its own scratch databases (created and dropped) and its own queue names.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import httpx
from sqlalchemy import text

from api_shim.auth import mint_token
from bench.engine_throughput import (
    REDIS_URL,
    drop_database,
    mediaq_end_to_end,
    scratch_database,
)
from mediaq.db import engine_for
from mediaq.jobcounts import fold
from mediaq.settings import Settings
from scheduler.retention import prune
from tests.integration.apiharness import live_server

SECRET = "bench-secret-that-is-long-enough-for-hs256"
ENDPOINTS = {
    "/metrics": "/metrics",
    "/api/jobs?limit=50": "/api/jobs?limit=50",
    "/api/jobs?status=failed": "/api/jobs?status=failed&limit=50",
    "/api/jobs/queue": "/api/jobs/queue",
}


def bench_settings(url: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        database_url=url,
        redis_url=REDIS_URL,
        jwt_secret=SECRET,
        enable_media_features=True,
        queue_prefix=f"mqbench{tag}",
        host_name=f"bench-{tag}",
        concurrency=2,
        task_events=False,
        retain_completed_days=0,  # retention off: the history stays in the table
        retain_failed_days=0,
        retain_cancelled_days=0,
    ).validated()


def seed_finished(url: str, n: int) -> float:
    """Insert ``n`` finished jobs; returns seconds taken."""
    started = time.perf_counter()
    engine = engine_for(url)
    step = 200_000
    for first in range(0, n, step):
        with engine.begin() as conn:
            conn.execute(
                text(
                    """
                    INSERT INTO jobs (type, status, resource_category, params, created_at,
                                      started_at, completed_at, attempt, progress, log)
                    SELECT CASE WHEN g % 3 = 0 THEN 'scan' ELSE 'noop' END,
                           CASE WHEN g % 20 = 0 THEN 'failed'
                                WHEN g % 20 = 1 THEN 'cancelled' ELSE 'completed' END,
                           'cpu', jsonb_build_object('i', g),
                           now() - interval '3 days' + g * interval '1 ms',
                           now() - interval '3 days' + g * interval '1 ms',
                           now() - interval '3 days' + g * interval '1 ms' + interval '2 s',
                           1, 100, 'done in 2 s on bench-host' || chr(10)
                      FROM generate_series(CAST(:a AS int), CAST(:b AS int)) AS g
                    """
                ),
                {"a": first + 1, "b": min(n, first + step)},
            )
    with engine.begin() as conn:
        fold(conn)  # what the scheduler's periodic work does every 2 s
    with engine.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text("VACUUM ANALYZE jobs"))
        autocommit.execute(text("VACUUM job_count_deltas"))  # as the fold does after a burst
    return time.perf_counter() - started


def timed_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def endpoint_times(settings: Settings, runs: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    out = {}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=120) as client:
        for name, path in ENDPOINTS.items():

            def get(path: str = path) -> object:
                response = client.get(path, headers=headers)
                response.raise_for_status()
                return response

            out[name] = timed_ms(get, runs)
    return out


def table_mib(url: str) -> tuple[float, float]:
    with engine_for(url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_table_size('jobs') / 1048576.0 AS tbl, "
                "pg_indexes_size('jobs') / 1048576.0 AS idx"
            )
        ).one()
    return float(row.tbl), float(row.idx)


def bulk_cancel(settings: Settings, n: int) -> dict[str, float]:
    """Time a bulk cancel by filter of ``n`` pending jobs beside gallery requests."""
    url = settings.database_url
    with engine_for(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (type, status, resource_category, vram_required, params) "
                "SELECT 'noop', 'pending', 'gpu_ai', 1024, jsonb_build_object('i', g) "
                "FROM generate_series(1, :n) g"
            ),
            {"n": n},
        )
        conn.execute(
            text(
                "INSERT INTO public_media (path, filename, category) "
                "SELECT '/p/' || g || '.mp4', g || '.mp4', 'highlights' "
                "FROM generate_series(1, 200) g"
            )
        )
    headers = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=300) as client:
        gallery: list[float] = []
        stop = threading.Event()

        def browse() -> None:
            with httpx.Client(base_url=base, timeout=60) as reader:
                while not stop.is_set():
                    started = time.perf_counter()
                    reader.get("/api/media/public?limit=24").raise_for_status()
                    gallery.append((time.perf_counter() - started) * 1000)

        for _ in range(50):  # the gallery alone
            started = time.perf_counter()
            client.get("/api/media/public?limit=24").raise_for_status()
            gallery.append((time.perf_counter() - started) * 1000)
        idle = sorted(gallery)
        gallery.clear()
        thread = threading.Thread(target=browse, daemon=True)
        thread.start()
        started = time.perf_counter()
        response = client.post(
            "/api/jobs/bulk",
            json={
                "action": "cancel",
                "filter": {"status": "pending", "resourceCategory": "gpu_ai"},
            },
            headers=headers,
        )
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join(30)
    response.raise_for_status()
    body = response.json()
    during = sorted(gallery)

    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")

    return {
        "matched": body["matched"],
        "changed": body["changed"],
        "seconds": elapsed,
        "rows_per_s": body["changed"] / elapsed,
        "gallery_idle_p50_ms": p(idle, 0.5),
        "gallery_idle_p99_ms": p(idle, 0.99),
        "gallery_during_p50_ms": p(during, 0.5),
        "gallery_during_p99_ms": p(during, 0.99),
        "gallery_requests_during": len(during),
    }


def retention_cycles(url: str, cycles: int, per_cycle: int = 100_000) -> list[tuple[float, float]]:
    """Finish and age ``per_cycle`` jobs, prune them as the scheduler does; sizes after each."""
    engine = engine_for(url)
    sizes = []
    for _ in range(cycles):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO jobs (type, status, resource_category, completed_at, log) "
                    "SELECT 'noop', 'completed', 'cpu', now() - interval '8 days', "
                    "'done' || chr(10) FROM generate_series(1, :n)"
                ),
                {"n": per_cycle},
            )
        while prune(engine, {"completed": 7}, max_batches=100).total:
            pass
        with engine.connect() as conn:  # what autovacuum does between cycles
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM jobs"))
        sizes.append(table_mib(url))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--drain-jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--skip-drain", action="store_true")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    # "page": one full page of finished jobs, so a list shows 50 rows as on the big table
    for label, finished in (("empty", 0), ("page", 100), ("history", args.finished)):
        name, url = scratch_database()
        try:
            settings = bench_settings(url)
            if finished:
                seconds = seed_finished(url, finished)
                print(f"seeded {finished:,} finished jobs in {seconds:.0f} s")
            results[label] = endpoint_times(settings, args.runs)
            if not args.skip_drain and label != "page":
                drained = mediaq_end_to_end(args.drain_jobs, settings, samples=5)
                results[label]["drain_jobs_per_s"] = drained["throughput"]
            table, index = table_mib(url)
            print(f"{label}: jobs table {table:.0f} MiB, indexes {index:.0f} MiB")
            if finished:
                bulk = bulk_cancel(replace(settings, host_name=settings.host_name + "b"), args.bulk)
                print(
                    f"bulk cancel by filter: {bulk['changed']:,.0f} of {bulk['matched']:,.0f} "
                    f"jobs in {bulk['seconds']:.1f} s ({bulk['rows_per_s']:,.0f} rows/s); "
                    f"gallery p50/p99 {bulk['gallery_idle_p50_ms']:.1f}/"
                    f"{bulk['gallery_idle_p99_ms']:.1f} ms idle, "
                    f"{bulk['gallery_during_p50_ms']:.1f}/{bulk['gallery_during_p99_ms']:.1f} ms "
                    f"during ({bulk['gallery_requests_during']:.0f} requests)"
                )
        finally:
            drop_database(name)

    print(f"\n{'':28}{'empty':>12}{'100 rows':>12}{'1M finished':>14}{'ratio':>8}")
    for key in results["empty"]:
        empty, full = results["empty"][key], results["history"][key]
        page = results["page"].get(key, empty)
        base = empty if key.startswith("drain") else page  # lists: against a full page
        unit = "jobs/s" if key.startswith("drain") else "ms"
        print(
            f"{key:28}{empty:>9.1f} {unit:<3}{page:>8.1f} {unit:<3}{full:>10.1f} {unit:<3}"
            f"{full / base:>8.2f}"
        )

    name, url = scratch_database()
    try:
        sizes = retention_cycles(url, args.cycles)
    finally:
        drop_database(name)
    print("\nretention: 100,000 jobs finish and age per cycle, pruned as the scheduler does")
    for i, (table, index) in enumerate(sizes, start=1):
        print(f"  after cycle {i}: jobs table {table:.1f} MiB, indexes {index:.1f} MiB")


if __name__ == "__main__":
    main()
