"""The engine as users run it, beside raw Celery and procrastinate, in one run.

    flock /tmp/mediaq-bench.lock .venv/bin/python -m bench.engine_stack [--jobs 3000]
        [--rounds 1] [--latency [--probes 40]] [--skip-peer]

Per round, in this order, on the same machine minutes:

1. raw Celery drain of N no-op tasks with mediaq's worker flags (prefork -c 2, prefetch 1,
   late acks, ``-O fair``), with task events on (``-E``, as Flower needs) and off;
2. procrastinate's drain of N no-op jobs at concurrency 2 (the peer in ../shared/peers);
3. mediaq through the full default stack: ``mediaq api``, ``mediaq scheduler`` and
   ``mediaq worker`` with default settings (task events on, 2 CPU slots, the default
   look-ahead): N noop jobs enqueued in one call, time from the first ``created_at`` to the
   last ``completed_at``, and the database cost of the drain (commits and rows written per
   job, from ``pg_stat_database`` of a scratch database no one else uses).

With ``--latency``: while two slots drain a backlog of 10,000 jobs of 50 ms, enqueue a
priority-10 job every 0.5 s and report when each started (``started_at - created_at``);
"one job's duration plus overhead" is the 50 ms plus the figure above 50 ms.

Prints the ratios the figures are judged by: mediaq / raw Celery -E and mediaq /
procrastinate. Note the load (``uptime``) beside each figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from bench.engine_throughput import (
    REDIS_URL,
    WORKER_FLAGS,
    count,
    drop_database,
    scratch_database,
    spawn,
    stop,
)
from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.settings import Settings, settings_to_env

# the runnable peer lives in ../shared/peers beside the checkout (or further up for a worktree)
PEER = next(
    (
        d / "shared" / "peers" / "procrastinate" / "run"
        for d in Path(__file__).resolve().parents[1:]
        if (d / "shared" / "peers" / "procrastinate" / "run").exists()
    ),
    Path("../shared/peers/procrastinate/run"),
)
LIVE = "SELECT count(*) FROM jobs WHERE status IN ('pending', 'queued', 'running')"


def load() -> str:
    return os.getloadavg().__repr__()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_celery_drain(n: int, settings: Settings, events: bool) -> float:
    """Tasks/s of bare Celery draining ``n`` pre-published no-op tasks."""
    import redis

    tag = uuid.uuid4().hex[:8]
    queue, key = f"bench.raw.{tag}", f"bench:{tag}"
    env = settings_to_env(settings) | {"BENCH_QUEUE": queue, "BENCH_KEY": key}
    os.environ.update({"BENCH_QUEUE": queue, "BENCH_KEY": key})
    from bench import raw_celery_app

    raw_celery_app.app.conf.task_default_queue = queue
    raw_celery_app.KEY = key
    with raw_celery_app.app.producer_or_acquire() as producer:
        for _ in range(n):
            raw_celery_app.app.send_task("bench.noop", queue=queue, producer=producer)
    argv = [sys.executable, "-m", "celery", "-A", "bench.raw_celery_app", "worker"]
    argv += ["-Q", queue, *WORKER_FLAGS] + (["-E"] if events else [])
    worker = spawn(argv, env)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 600
        while int(client.get(f"{key}:count") or 0) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("raw celery drain did not finish")
            time.sleep(0.05)
        first = float(client.get(f"{key}:first") or 0)
        last = float(client.get(f"{key}:last") or 0)
    finally:
        stop(worker)
        client.delete(*[f"{key}:{k}" for k in ("first", "last", "count")], queue)
    return (n - 1) / (last - first)


def procrastinate_drain(n: int) -> float | None:
    if not PEER.exists():
        return None
    db = f"peer_procrastinate_{uuid.uuid4().hex[:6]}"
    out = subprocess.run(
        [str(PEER), "--jobs", str(n), "--runs", "1", "--concurrency", "2"],
        env=dict(os.environ) | {"PEER_DB": db},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            f"DROP DATABASE IF EXISTS {db} WITH (FORCE)",
        ],
        capture_output=True,
        check=False,
    )
    match = re.search(r"procrastinate drain: (\d+) jobs/s", out.stdout)
    if match is None:
        print(f"  procrastinate did not report: {out.stderr.strip()[-300:]}")
        return None
    return float(match.group(1))


class Stack:
    """``mediaq api``, ``mediaq scheduler`` and ``mediaq worker`` with default settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        env = settings_to_env(settings)
        cli = [sys.executable, "-m", "ops.cli"]
        self.procs = [spawn([*cli, name], env) for name in ("api", "scheduler", "worker")]

    def __enter__(self) -> Stack:
        url = self.settings.database_url
        with transaction(url) as session:
            enqueue(session, JobSpec("noop"))
        deadline = time.monotonic() + 120
        while count(url, LIVE) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the stack did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        for proc in reversed(self.procs):
            stop(proc)


def db_counters(url: str) -> tuple[int, int]:
    with engine_for(url).connect() as conn:
        row = conn.execute(
            text(
                "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS written "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
        ).one()
    return int(row.xact_commit), int(row.written)


def mediaq_drain(n: int, settings: Settings) -> dict[str, float]:
    url = settings.database_url
    with Stack(settings):
        time.sleep(1.0)  # let the statistics of the start settle
        commits0, written0 = db_counters(url)
        with transaction(url) as session:
            ids = enqueue_many(session, [JobSpec("noop") for _ in range(n)])
        deadline = time.monotonic() + 900
        while count(url, LIVE) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("mediaq drain did not finish")
            time.sleep(0.2)
        time.sleep(0.6)  # pg_stat_database is flushed at most every 0.5 s
        commits1, written1 = db_counters(url)
        with engine_for(url).connect() as conn:
            row = conn.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM max(completed_at) - min(created_at)) AS s,"
                    " count(*) FILTER (WHERE attempt <> 1) AS twice,"
                    " count(*) FILTER (WHERE status <> 'completed') AS lost"
                    " FROM jobs WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            ).one()
    return {
        "rate": n / float(row.s),
        "twice": float(row.twice),
        "lost": float(row.lost),
        "commits_per_job": (commits1 - commits0) / n,
        "rows_per_job": (written1 - written0) / n,
    }


def priority_latency(settings: Settings, backlog: int = 10_000, probes: int = 40) -> list[float]:
    url = settings.database_url
    with Stack(settings):
        with transaction(url) as session:
            enqueue_many(session, [JobSpec("noop", {"seconds": 0.05}) for _ in range(backlog)])
        time.sleep(2.0)
        ids = []
        for _ in range(probes):
            with transaction(url) as session:
                ids.append(enqueue(session, JobSpec("noop", priority=10)))
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while True:
            with engine_for(url).connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT EXTRACT(EPOCH FROM started_at - created_at) * 1000 AS ms "
                        "FROM jobs WHERE id = ANY(:ids) AND started_at IS NOT NULL"
                    ),
                    {"ids": ids},
                ).all()
            if len(rows) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        with engine_for(url).begin() as conn:  # the rest of the backlog is not needed
            conn.execute(text("UPDATE jobs SET held = true WHERE status = 'pending'"))
    return sorted(float(r.ms) for r in rows)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--latency", action="store_true")
    parser.add_argument(
        "--probes", type=int, default=40, help="priority-10 probes of --latency (0.5 s apart)"
    )
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--lookahead", type=int, default=None, help="MEDIAQ_LOOKAHEAD")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:6]
    base = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "REDIS_URL": REDIS_URL,
            "JWT_SECRET": "bench-secret-that-is-long-enough-for-hs256",
        }
    )
    if args.lookahead is not None:
        base = replace(base, lookahead=args.lookahead)
    n = args.jobs
    scratch = tempfile.mkdtemp(prefix="mediaq-bench-")
    for round_no in range(1, args.rounds + 1):
        name, url = scratch_database()
        settings = replace(
            base,
            database_url=url,
            queue_prefix=f"bench{tag}{round_no}",
            host_name=f"bench-{tag}-{round_no}",
            api_port=free_port(),
            library_root=f"{scratch}/library",
            public_root=f"{scratch}/library/public",
            output_root=f"{scratch}/library/output",
            thumbnail_root=f"{scratch}/library/thumbnails",
        )
        try:
            print(f"round {round_no}, {n} no-op jobs, load {load()}", flush=True)
            raw_e = raw_off = 0.0
            if not args.skip_raw:
                raw_e = raw_celery_drain(n, settings, events=True)
                print(f"  raw Celery -E drain:       {raw_e:7.0f} tasks/s  load {load()}")
                raw_off = raw_celery_drain(n, settings, events=False)
                print(f"  raw Celery (no events):    {raw_off:7.0f} tasks/s  load {load()}")
            peer = None if args.skip_peer else procrastinate_drain(n)
            if peer is not None:
                print(f"  procrastinate drain (c=2): {peer:7.0f} jobs/s   load {load()}")
            got = mediaq_drain(n, settings)
            print(
                f"  mediaq full stack:         {got['rate']:7.0f} jobs/s   load {load()}\n"
                f"    commits/job {got['commits_per_job']:.2f}, rows written/job "
                f"{got['rows_per_job']:.2f}, claimed twice {got['twice']:.0f}, "
                f"not completed {got['lost']:.0f}"
            )
            if raw_e:
                print(f"  mediaq / raw Celery -E:    {got['rate'] / raw_e:.2f}x")
                print(f"  mediaq / raw Celery:       {got['rate'] / raw_off:.2f}x")
            if peer:
                print(f"  mediaq / procrastinate:    {got['rate'] / peer:.2f}x")
            if args.latency:
                lat = priority_latency(settings, probes=args.probes)
                print(
                    f"  priority-10 start under a 50 ms backlog, 2 slots ({len(lat)} probes): "
                    f"p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
                    f"max {max(lat):.1f} ms  load {load()}"
                )
        finally:
            drop_database(name)


if __name__ == "__main__":
    main()
