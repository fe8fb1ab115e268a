"""The scheduler alone feeding a large fleet: admissions + publishes per second.

    flock /tmp/mediaq-bench.lock .venv/bin/python -m bench.scheduler_feed
        [--backlogs 10000,100000] [--seconds 10]

A scratch database holds a fake fleet (10 hosts x 100 CPU slots = 1,000 CPU slots, and 40
hosts x 2 GPUs of 80 GiB with 8 slots each) and a backlog of pending jobs (4 in 5 CPU, the
rest GPU jobs of 1-8 GiB). No workers run: after every pass, what it admitted is marked
completed behind the scheduler's back, as many fresh pending jobs are inserted (the backlog
stays at its size: the rate is the rate *at* that backlog) and the messages are taken out of
Redis (none of this is timed), so every pass finds its slots free again, as with a fleet
that finishes jobs as fast as they come. Timed: ``Scheduler.run_pass`` itself, admission
(the pending -> queued update with reservations) and the publish of every message, fast
passes (what a notification triggers) and, every ``scheduler_tick_s``, a refresh pass
(rescue, fleet, reasons).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from dataclasses import replace

import redis
from sqlalchemy import text

from bench.engine_throughput import REDIS_URL, drop_database, scratch_database
from mediaq.db import engine_for
from mediaq.queues import cpu_queue, gpu_queue, level_lists
from mediaq.settings import Settings
from scheduler.service import Scheduler
from workers.gpu_backend import GpuSnapshot
from workers.hostregistry import heartbeat_host, register_host

CPU_HOSTS, CPU_SLOTS = 10, 100
GPU_HOSTS, GPUS_PER_HOST, GPU_MIB, GPU_SLOTS = 40, 2, 81920, 8


def add_pending(conn: object, rng: random.Random, n: int) -> None:
    """``n`` pending noop jobs: 4 in 5 CPU, the rest GPU jobs of 1-8 GiB, priorities 0-10."""
    classes = [rng.choice(["cpu"] * 8 + ["gpu_ai", "gpu_encode"]) for _ in range(n)]
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO jobs (type, status, resource_category, vram_required, priority,"
            " params) SELECT 'noop', 'pending', c, v, p,"
            " jsonb_build_object('expectedSeconds', 30)"
            " FROM unnest(CAST(:c AS text[]), CAST(:v AS int[]), CAST(:p AS int[]))"
            " AS x(c, v, p)"
        ),
        {
            "c": classes,
            "v": [0 if c == "cpu" else rng.randint(1, 8) * 1024 for c in classes],
            "p": [rng.randint(0, 10) for _ in classes],
        },
    )


def seed(settings: Settings, backlog: int, rng: random.Random) -> list[str]:
    uuids: list[str] = []
    with engine_for(settings.database_url).begin() as conn:
        for i in range(CPU_HOSTS):
            register_host(
                conn,
                replace(
                    settings,
                    host_name=f"cpu-{i}",
                    classes=("cpu",),
                    concurrency=CPU_SLOTS,
                    gpu_slots=0,
                ),
                0,
            )
        for i in range(GPU_HOSTS):
            host = f"gpu-{i}"
            register_host(
                conn,
                replace(
                    settings, host_name=host, classes=("gpu_ai", "gpu_encode"), gpu_slots=GPU_SLOTS
                ),
                3,
            )
            snaps = [
                GpuSnapshot(f"GPU-{i:03d}-{k}", k, "Bench GPU", GPU_MIB, GPU_MIB, 0)
                for k in range(GPUS_PER_HOST)
            ]
            heartbeat_host(conn, host, snaps, frozenset())
            uuids += [s.uuid for s in snaps]
        add_pending(conn, rng, backlog)
        conn.exec_driver_sql("ANALYZE jobs")
    return uuids


def keep_fleet_alive(conn: object) -> None:
    conn.execute(text("UPDATE worker_hosts SET last_seen = now()"))  # type: ignore[attr-defined]
    conn.execute(text("UPDATE gpus SET last_seen = now()"))  # type: ignore[attr-defined]


def run(backlog: int, seconds: float) -> None:
    name, url = scratch_database()
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        database_url=url, redis_url=REDIS_URL, queue_prefix=f"feed{tag}", host_name=f"feed-{tag}"
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        rng = random.Random(1)
        uuids = seed(settings, backlog, rng)
        lists = level_lists(cpu_queue(settings.queue_prefix))
        lists += [k for u in uuids for k in level_lists(gpu_queue(settings.queue_prefix, u))]
        scheduler = Scheduler(settings)
        engine = engine_for(url)
        timed = {"fast": [0.0, 0, 0], "refresh": [0.0, 0, 0]}
        next_tick = 0.0
        end = time.monotonic() + seconds
        with scheduler.engine.connect() as conn:
            while time.monotonic() < end:
                refresh = time.monotonic() >= next_tick
                if refresh:
                    next_tick = time.monotonic() + settings.scheduler_tick_s
                    with engine.begin() as side:
                        keep_fleet_alive(side)
                started = time.perf_counter()
                report = scheduler.run_pass(conn, refresh)
                elapsed = time.perf_counter() - started
                kind = timed["refresh" if refresh else "fast"]
                kind[0] += elapsed
                kind[1] += len(report.admitted)
                kind[2] += 1
                if report.admitted:  # the fake fleet finishes them at once (not timed)
                    with engine.begin() as side:
                        side.execute(
                            text(
                                "UPDATE jobs SET status = 'completed', completed_at = now()"
                                " WHERE id = ANY(:ids)"
                            ),
                            {"ids": [a.job_id for a in report.admitted]},
                        )
                        add_pending(side, rng, len(report.admitted))
                    client.delete(*lists)
        fast_rate = timed["fast"][1] / max(timed["fast"][0], 1e-9)
        total_s = sum(k[0] for k in timed.values())
        total_n = sum(k[1] for k in timed.values())
        print(
            f"backlog {backlog:,}: {total_n / total_s:,.0f} admissions+publishes/s "
            f"({total_n:,} in {total_s:.1f} s of passes; "
            f"fast passes {timed['fast'][2]}: {fast_rate:,.0f}/s, "
            f"refresh passes {timed['refresh'][2]}: "
            f"{timed['refresh'][1] / max(timed['refresh'][0], 1e-9):,.0f}/s)  "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        scheduler.publisher.close()
    finally:
        client.delete(*lists)
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlogs", default="10000,100000")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for backlog in (int(b) for b in args.backlogs.split(",")):
        run(backlog, args.seconds)


if __name__ == "__main__":
    main()
