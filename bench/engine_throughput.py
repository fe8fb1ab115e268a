"""Issue 2 figures, measured side by side in one run on this machine.

    .venv/bin/python -m bench.engine_throughput [--jobs 3000] [--latency-samples 200]

1. raw Celery no-op drain (Redis broker, prefork concurrency 2, prefetch 1, late acks: the
   same worker settings mediaq uses), and raw ``send_task`` enqueue rate;
2. mediaq end to end: bulk enqueue of N noop jobs into an idle fleet (scheduler + one worker
   host with 2 CPU slots) until the last one is completed in PostgreSQL;
3. enqueue-to-start latency with an idle worker (``started_at - created_at``, DB clock);
4. bulk enqueue of 10,000 jobs in one call (one transaction).

Uses its own scratch database (created and dropped) and its own queue names.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace

import psycopg
import redis
from sqlalchemy import text

from mediaq.db import dispose_engines, engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.migrate import upgrade_to_head
from mediaq.settings import Settings, settings_to_env

ADMIN_URL = os.environ.get("MEDIAQ_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIAQ_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_FLAGS = [
    "-c",
    "2",
    "-P",
    "prefork",
    "--prefetch-multiplier",
    "1",
    "-O",
    "fair",
    "--without-gossip",
    "--without-mingle",
    "--loglevel",
    "WARNING",
]


def scratch_database() -> tuple[str, str]:
    name = f"mq_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    base = ADMIN_URL.rpartition("/")[0]
    url = f"{base}/{name}"
    upgrade_to_head(url)
    return name, url


def drop_database(name: str) -> None:
    dispose_engines()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env=dict(os.environ) | env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def raw_celery(n: int, settings: Settings) -> tuple[float, float]:
    """(enqueue tasks/s, drain tasks/s) of bare Celery with mediaq's worker settings."""
    tag = uuid.uuid4().hex[:8]
    env = settings_to_env(settings) | {
        "BENCH_QUEUE": f"bench.raw.{tag}",
        "BENCH_KEY": f"bench:{tag}",
    }
    os.environ.update({"BENCH_QUEUE": env["BENCH_QUEUE"], "BENCH_KEY": env["BENCH_KEY"]})
    from bench import raw_celery_app

    raw_celery_app.app.conf.task_default_queue = env["BENCH_QUEUE"]
    raw_celery_app.KEY = env["BENCH_KEY"]
    started = time.perf_counter()
    with raw_celery_app.app.producer_or_acquire() as producer:
        for _ in range(n):
            raw_celery_app.app.send_task("bench.noop", queue=env["BENCH_QUEUE"], producer=producer)
    enqueue_rate = n / (time.perf_counter() - started)
    worker = spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.raw_celery_app",
            "worker",
            "-Q",
            env["BENCH_QUEUE"],
            *WORKER_FLAGS,
        ],
        env,
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 300
        while int(client.get(f"{env['BENCH_KEY']}:count") or 0) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("raw celery drain did not finish")
            time.sleep(0.05)
        first = float(client.get(f"{env['BENCH_KEY']}:first") or 0)
        last = float(client.get(f"{env['BENCH_KEY']}:last") or 0)
    finally:
        stop(worker)
        client.delete(*[f"{env['BENCH_KEY']}:{k}" for k in ("first", "last", "count")])
    return enqueue_rate, (n - 1) / (last - first)


def count(url: str, sql: str) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def mediaq_end_to_end(n: int, settings: Settings, samples: int) -> dict[str, float]:
    env = settings_to_env(settings)
    scheduler = spawn([sys.executable, "-m", "ops.cli", "scheduler"], env)
    worker = spawn([sys.executable, "-m", "ops.cli", "worker"], env)
    url = settings.database_url
    try:
        warm = time.monotonic() + 60
        with transaction(url) as session:
            enqueue(session, JobSpec("noop"))
        while count(url, "SELECT count(*) FROM jobs WHERE status = 'completed'") < 1:
            if time.monotonic() > warm:
                raise RuntimeError("fleet did not start")
            time.sleep(0.1)
        # latency: one job at a time into an idle fleet
        latencies = []
        for _ in range(samples):
            with transaction(url) as session:
                job_id = enqueue(session, JobSpec("noop"))
            while True:
                with engine_for(url).connect() as conn:
                    row = conn.execute(
                        text(
                            "SELECT status, EXTRACT(EPOCH FROM started_at - created_at) AS s "
                            "FROM jobs WHERE id = :i"
                        ),
                        {"i": job_id},
                    ).one()
                if row.status == "completed":
                    latencies.append(float(row.s) * 1000)
                    break
                time.sleep(0.002)
        with transaction(url) as session:
            enqueue_many(session, [JobSpec("noop") for _ in range(n)])
        deadline = time.monotonic() + 600
        # poll the live set through its partial indexes: cheap, unlike counting finished rows
        live = "SELECT count(*) FROM jobs WHERE status IN ('pending', 'queued', 'running')"
        while count(url, live) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("mediaq drain did not finish")
            time.sleep(0.2)
        with engine_for(url).connect() as conn:
            last_done = conn.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM max(completed_at) - min(created_at)) FROM jobs "
                    "WHERE id > (SELECT max(id) - :n FROM jobs)"
                ),
                {"n": n},
            ).scalar_one()
        elapsed = float(last_done)
        twice = count(url, "SELECT count(*) FROM jobs WHERE attempt <> 1")
    finally:
        stop(worker)
        stop(scheduler)
    latencies.sort()
    return {
        "throughput": n / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "claimed_more_than_once": float(twice),
    }


def bulk_enqueue(url: str, n: int = 10_000, runs: int = 3) -> float:
    rates = []
    for _ in range(runs):
        specs = [JobSpec("noop", {"i": i}) for i in range(n)]
        started = time.perf_counter()
        with transaction(url) as session:
            enqueue_many(session, specs)
        rates.append(n / (time.perf_counter() - started))
        with engine_for(url).begin() as conn:
            conn.execute(text("DELETE FROM jobs WHERE status = 'pending'"))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--lookahead", type=int, default=0, help="MEDIAQ_LOOKAHEAD for mediaq")
    parser.add_argument("--skip-raw", action="store_true")
    args = parser.parse_args()
    name, url = scratch_database()
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        database_url=url,
        redis_url=REDIS_URL,
        queue_prefix=f"bench{tag}",
        host_name=f"bench-{tag}",
        concurrency=2,
        task_events=False,
        classes=("cpu",),
    ).validated()
    try:
        rate = bulk_enqueue(url)
        print(f"bulk enqueue, 10,000 jobs in one call: {rate:,.0f} jobs/s")
        raw_drain = None
        if not args.skip_raw:
            raw_enqueue, raw_drain = raw_celery(args.jobs, settings)
            print(f"raw Celery send_task:                 {raw_enqueue:,.0f} tasks/s")
            print(f"raw Celery no-op drain (c=2):         {raw_drain:,.0f} tasks/s")
        tuned = replace(settings, lookahead=args.lookahead)
        figures = mediaq_end_to_end(args.jobs, tuned, args.latency_samples)
        ratio = f" ({figures['throughput'] / raw_drain:.2f}x raw Celery)" if raw_drain else ""
        print(
            f"mediaq end to end, {args.jobs} noop jobs:   {figures['throughput']:,.0f} jobs/s"
            + ratio
        )
        print(
            f"enqueue-to-start latency, idle worker: p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms"
        )
        print(f"jobs claimed more than once:          {figures['claimed_more_than_once']:.0f}")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
