"""One GPU admission pass over 10,000 pending jobs and 12 GPUs: the pure core, and with the
database round trip.

    .venv/bin/python -m bench.admission_speed [--pending 10000] [--runs 15]

1. pure core: ``plan_all`` over 10,000 pending GPU jobs (half gpu_ai, half gpu_encode,
   random VRAM 256 MiB-40 GiB and durations) against 12 GPUs (4x80, 4x24, 2x16, 2x8 GiB on
   6 hosts) that already run ~70 jobs; median of ``--runs``;
2. with the database: the same fleet and jobs in a scratch database; one pass = read the
   fleet, the ledger and all 10,000 pending jobs, plan, admit (the atomic pending -> queued
   update) and store every waiting reason, in one transaction. Measured rolled back (every
   reason written, the worst case) and committed-then-repeated (steady state: only changed
   reasons are written);
3. the scheduler's own refresh tick (``Scheduler.run_pass``, reason window 500 per class)
   over the same backlog.

Uses its own scratch database (created and dropped).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from bench.engine_throughput import REDIS_URL, drop_database, scratch_database
from mediaq.db import engine_for
from mediaq.settings import Settings
from scheduler.admission import plan_all
from scheduler.dispatch import admit, write_waiting
from scheduler.fleet import load_capacity, load_live, load_pending
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob, Plan
from scheduler.reasoncache import ReasonCache
from workers.gpu_backend import GpuSnapshot
from workers.hostregistry import heartbeat_host, register_host

SIZES = [81920] * 4 + [24576] * 4 + [16384] * 2 + [8192] * 2
CLASSES = ("gpu_ai", "gpu_encode")
MARGIN = 512
SLOTS = 8


def fleet_views(rng: random.Random, now: datetime) -> tuple[list[GpuView], list[LiveJob]]:
    """12 GPUs, each about 70 % full of running jobs (up to 6 per GPU)."""
    gpus = [
        GpuView(
            uuid=f"GPU-bench-{i:02d}",
            host=f"host-{i // 2}",
            index=i % 2,
            name="Bench GPU",
            total_mib=size,
            free_mib=size,
            foreign_mib=rng.choice([0, 0, 1024]),
            slots=SLOTS,
            encoder_limit=3,
        )
        for i, size in enumerate(SIZES)
    ]
    live: list[LiveJob] = []
    job_id = 10_000_000
    for g in gpus:
        used = 0
        for _ in range(6):
            vram = rng.choice([1024, 2048, 4096, 8192])
            if used + vram > g.total_mib * 0.7:
                break
            used += vram
            job_id += 1
            live.append(
                LiveJob(
                    job_id,
                    "gpu_ai",
                    "running",
                    g.uuid,
                    vram,
                    started_at=now,
                    expected_end=now + timedelta(seconds=rng.uniform(5, 300)),
                )
            )
    return gpus, live


def pending_jobs(rng: random.Random, count: int, now: datetime) -> dict[str, list[PendingJob]]:
    jobs: dict[str, list[PendingJob]] = {c: [] for c in CLASSES}
    for i in range(count):
        cls = CLASSES[i % 2]
        jobs[cls].append(
            PendingJob(
                id=i + 1,
                resource_category=cls,
                priority=5,
                created_at=now - timedelta(seconds=count - i),
                vram_required=rng.randint(256, 40960),
                uses_encoder=cls == "gpu_encode",
                expected_s=rng.uniform(5, 600),
            )
        )
    return jobs


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median and minimum wall time, and median CPU time of this process, in ms.

    On a shared, loaded machine the wall clock also counts waiting for a core; the CPU time
    of this process does not (the database's own work is in the wall time only).
    """
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def figures(med: float, lo: float, cpu: float, runs: int) -> str:
    return f"median {med:.1f} ms wall (min {lo:.1f}; {cpu:.1f} ms CPU here; {runs} runs)"


def bench_pure(pending: int, runs: int) -> Plan:
    rng = random.Random(1)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    gpus, live = fleet_views(rng, now)
    jobs = pending_jobs(rng, pending, now)
    capacity = Capacity(0, tuple(gpus))
    result: list[Plan] = []

    def one() -> None:
        result.append(plan_all(jobs, live, capacity, now, MARGIN))

    med, lo, cpu = median_ms(one, runs)
    plan = result[-1]
    codes: dict[str, int] = {}
    for w in plan.waiting:
        codes[w.code] = codes.get(w.code, 0) + 1
    print(
        f"pure core: {pending} pending, {len(gpus)} GPUs, {len(live)} live jobs: "
        f"{figures(med, lo, cpu, runs)}; admitted {len(plan.admitted)}, waiting {codes}"
    )
    return plan


def seed_database(settings: Settings, pending: int) -> None:
    """The same fleet and backlog as rows: hosts, GPUs, running jobs, pending jobs."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    gpus, live = fleet_views(rng, now)
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        for host in sorted({g.host for g in gpus}):
            hs = Settings(host_name=host, classes=CLASSES, gpu_slots=SLOTS, nvenc_sessions=3)
            register_host(conn, hs, 3)
            snaps = [
                GpuSnapshot(g.uuid, g.index, g.name, g.total_mib, g.total_mib, 0)
                for g in gpus
                if g.host == host
            ]
            heartbeat_host(conn, host, snaps, frozenset())
        conn.execute(
            text(
                "INSERT INTO jobs (type, status, resource_category, vram_required, params, "
                "assigned_gpu, assigned_host, started_at, heartbeat_at, attempt) "
                "SELECT 'noop', 'running', 'gpu_ai', v, jsonb_build_object('expectedSeconds', e), "
                "g, h, now(), now(), 1 FROM unnest(CAST(:v AS int[]), CAST(:e AS float8[]), "
                "CAST(:g AS text[]), CAST(:h AS text[])) AS t(v, e, g, h)"
            ),
            {
                "v": [j.vram_mib for j in live],
                "e": [rng.uniform(5, 300) for _ in live],
                "g": [j.gpu_uuid for j in live],
                "h": [next(g.host for g in gpus if g.uuid == j.gpu_uuid) for j in live],
            },
        )
        jobs = pending_jobs(rng, pending, now)
        rows = [j for cls in CLASSES for j in jobs[cls]]
        conn.execute(
            text(
                "INSERT INTO jobs (type, status, resource_category, vram_required, params, "
                "created_at) SELECT 'noop', 'pending', c, v, "
                "jsonb_build_object('expectedSeconds', e, 'usesEncoder', c = 'gpu_encode'), t "
                "FROM unnest(CAST(:c AS text[]), CAST(:v AS int[]), CAST(:e AS float8[]), "
                "CAST(:t AS timestamptz[])) AS x(c, v, e, t)"
            ),
            {
                "c": [j.resource_category for j in rows],
                "v": [j.vram_required for j in rows],
                "e": [j.expected_s for j in rows],
                "t": [j.created_at for j in rows],
            },
        )
        conn.exec_driver_sql("ANALYZE jobs")


PHASES: dict[str, list[float]] = {}


def _phase(name: str, start: float) -> float:
    now = time.perf_counter()
    PHASES.setdefault(name, []).append((now - start) * 1000)
    return now


def gpu_pass(
    conn: Connection, settings: Settings, window: int, cache: ReasonCache | None = None
) -> tuple[int, int]:
    """Read fleet, ledger and pending; plan; admit; store reasons. Returns (admitted, written).

    With ``cache`` (what the scheduler does) only reasons that changed since the last pass
    are sent to the database."""
    t = time.perf_counter()
    now = conn.execute(text("SELECT now()")).scalar_one()
    capacity = load_capacity(conn, settings)
    live = load_live(conn)
    heads = {c: load_pending(conn, c, window, eligible_only=False) for c in CLASSES}
    t = _phase("read", t)
    plan = plan_all(heads, live, capacity, now, settings.vram_margin_mib)
    t = _phase("plan", t)
    admitted = admit(conn, plan.admitted)
    t = _phase("admit", t)
    waiting = list(plan.waiting)
    if cache is not None:
        waiting = cache.changed(plan.waiting, time.monotonic())
    written = write_waiting(conn, waiting)
    if cache is not None:
        cache.keep_only(w.job_id for w in plan.waiting)
        cache.remember(waiting)
    _phase("write reasons", t)
    return len(admitted), written


def phases() -> str:
    text_ = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in PHASES.items())
    PHASES.clear()
    return f"  phases (median ms): {text_}"


def bench_database(pending: int, runs: int) -> None:
    name, url = scratch_database()
    try:
        # The seeded hosts and jobs never heartbeat again: long timeouts keep them live.
        settings = Settings(
            database_url=url,
            redis_url=REDIS_URL,
            queue_prefix=f"mqbench{name[-8:]}",
            host_timeout_s=3600.0,
            heartbeat_timeout_s=3600.0,
            claim_timeout_s=3600.0,
        ).validated()
        seed_database(settings, pending)
        engine = engine_for(settings.database_url)
        window = pending  # every pending job of both classes (the biggest class has pending/2)

        def rolled_back() -> None:
            with engine.connect() as conn:
                trans = conn.begin()
                gpu_pass(conn, settings, window)
                trans.rollback()

        med, lo, cpu = median_ms(rolled_back, runs)
        print(
            f"with the database, every reason written (rolled back each time): "
            f"{figures(med, lo, cpu, runs)}"
        )
        print(phases())
        with engine.begin() as conn:
            admitted, written = gpu_pass(conn, settings, window)
        print(f"  first committed pass: {admitted} admitted, {written} reasons written")
        PHASES.clear()
        writes: list[int] = []
        cache = ReasonCache(max_age_s=3600)

        def steady() -> None:
            with engine.begin() as conn:
                writes.append(gpu_pass(conn, settings, window, cache)[1])

        med, lo, cpu = median_ms(steady, runs)
        print(
            f"with the database, steady state (only changed reasons written: median "
            f"{statistics.median(writes):.0f}): {figures(med, lo, cpu, runs)}"
        )
        print(phases())
        bench_scheduler_tick(settings, runs)
    finally:
        drop_database(name)


def bench_scheduler_tick(settings: Settings, runs: int) -> None:
    from scheduler.service import Scheduler

    scheduler = Scheduler(settings)
    try:
        with scheduler.engine.connect() as conn:
            med, lo, cpu = median_ms(lambda: scheduler.run_pass(conn, refresh=True), runs)
        print(
            f"the scheduler's refresh tick (rescue, CPU and GPU planning, 500-job reason "
            f"window per class): {figures(med, lo, cpu, runs)}"
        )
    finally:
        scheduler.engine.dispose()
        _drop_queues(settings)


def _drop_queues(settings: Settings) -> None:
    """The messages the scheduler published for admitted jobs: nobody will consume them."""
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(f"{settings.queue_prefix}*"):
        client.delete(key)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bench_pure(args.pending, args.runs)
    bench_database(args.pending, args.runs)


if __name__ == "__main__":
    main()
