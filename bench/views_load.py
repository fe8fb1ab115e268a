"""View throughput: 200 concurrent clients viewing one video, against a hot-row UPDATE per view.

    .venv/bin/python -m bench.views_load [--seconds 10] [--runs 3]

1. Baseline: ``pgbench`` running ``UPDATE public_media SET view_count = view_count + 1 WHERE
   id = :id`` on one row (what the seed does per view), 50 clients.
2. mediaq: ``mediaq api`` (one process) and ``wrk -c200`` on ``GET /api/media/public/ID``,
   every request with a new ``sessionId`` so every view must be counted; then the view buffer
   is flushed and the row's increase is compared with the 2xx responses wrk saw (none lost:
   the increase is at least that, and at most that plus the requests wrk cut off in flight).
3. The buffer alone: views/s that one ``ViewRecorder`` pushes into Redis (no HTTP).

Builds ``bench_gallery`` if missing (see ``bench.gallery_load``). Needs wrk and pgbench.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from api_shim.views import ViewRecorder
from bench.apibench import REDIS_URL, api_process, build_gallery_db, db_url, run_wrk
from mediaq.settings import Settings
from mediaq.viewbuffer import ViewBuffer
from scheduler.maintenance import drain_views

LUA = Path(__file__).with_name("views_unique.lua")
PREFIX = "mqbenchviews"
MEDIA_ID = 3


def view_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT view_count FROM public_media WHERE id = %s", (MEDIA_ID,))
        return int(row.fetchone()[0])  # type: ignore[index]


def baseline(url: str, seconds: int) -> float:
    """Hot-row UPDATEs per second (pgbench, 50 clients, 2 threads)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(
            f"UPDATE public_media SET view_count = view_count + 1 WHERE id = {MEDIA_ID};\n"
        )
    out = subprocess.run(
        ["pgbench", "-n", "-c", "50", "-j", "2", "-T", str(seconds), "-f", script.name, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]


def mediaq_views(url: str, seconds: int, port: int) -> tuple[float, float, int, int]:
    """(views/s accepted, p99 ms, 2xx responses, counted increase after the flush)."""
    settings = Settings(database_url=url, redis_url=REDIS_URL, queue_prefix=PREFIX).validated()
    redis = Redis.from_url(REDIS_URL)
    drain_views(settings, redis)
    before = view_count(url)
    # every request is a new session from one address: the per-address session bound is off
    with api_process(url, port, PREFIX, {"MEDIAQ_SESSIONS_PER_ADDRESS": "0"}) as base:
        result = run_wrk(
            f"{base}/api/media/public/{MEDIA_ID}", connections=200, seconds=seconds, script=str(LUA)
        )
        time.sleep(1.0)  # the recorder sends its last batch
    drain_views(settings, redis)
    for key in redis.scan_iter(f"{PREFIX}:views:seen:*", count=10_000):
        redis.delete(key)
    redis.close()
    ok = result.requests - result.non_2xx
    return result.rps, result.p99_ms, ok, view_count(url) - before


async def _recorder_rate(views: int) -> float:
    redis = AsyncRedis.from_url(REDIS_URL)
    buffer = ViewBuffer(PREFIX + "rec", 60)
    recorder = ViewRecorder(redis, buffer)
    recorder.start()
    started = time.perf_counter()
    for i in range(views):
        recorder.record(MEDIA_ID, f"r{i}", "127.0.0.1")
        if i % 1000 == 0:
            await asyncio.sleep(0)  # let the sender run, as requests would
    await recorder.stop()
    elapsed = time.perf_counter() - started
    counted = int(await redis.hget(buffer.pending_key, str(MEDIA_ID)) or 0)
    assert counted == views, (counted, views)
    async for key in redis.scan_iter(f"{buffer.prefix}:*", count=10_000):
        await redis.delete(key)
    await redis.aclose()
    return views / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=4191)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    url = db_url("bench_gallery")
    try:
        view_count(url)
    except psycopg.OperationalError:
        args.rebuild = True
    if args.rebuild:
        url = build_gallery_db("bench_gallery")
    base_rates, rates, p99s = [], [], []
    for run in range(args.runs):
        base_rates.append(baseline(url, args.seconds))
        rps, p99, ok, counted = mediaq_views(url, args.seconds, args.port)
        rates.append(rps)
        p99s.append(p99)
        lost = max(0, ok - counted)
        print(
            f"run {run + 1}: hot-row UPDATE {base_rates[-1]:7.0f}/s | mediaq {rps:7.0f} views/s "
            f"p99 {p99:.1f} ms; 2xx {ok}, counted {counted}, lost {lost}",
            flush=True,
        )
    recorder = asyncio.run(_recorder_rate(200_000))
    print(
        f"median: hot-row UPDATE {statistics.median(base_rates):.0f}/s, "
        f"mediaq HTTP {statistics.median(rates):.0f} views/s "
        f"(p99 {statistics.median(p99s):.1f} ms), view buffer alone {recorder:.0f} views/s"
    )


if __name__ == "__main__":
    main()
