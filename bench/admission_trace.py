"""1,000-job traces with a backlog, through the pure admission core in simulated time.

    .venv/bin/python -m bench.admission_trace [--jobs 1000] [--seed 7]

This is a simulation, not a run on real GPUs: jobs start the moment admission places them
and end after their (trace) duration; every arrival and completion triggers one admission
pass (``plan_all``) at that simulated time. It compares, on the same trace and fleet:

- ``mediaq``: best fit, a hold for each class's head job, backfill around it;
- ``strict FIFO``: the same core with ``backfill=False``, nothing passes a blocked job of
  its class (the SPEC's exact per-class order applied literally to GPU admission);
- ``greedy``: best fit with backfill but no holds (starves big jobs).

Scenarios: ``issue fleet`` (the integration test's hosts: 16, 8+8 and 80 GiB), all 1,000
jobs submitted at once; ``6-GPU fleet`` (2x80, 2x24, 2x16 GiB), 600 at once then one every
4 s on average. 60 % AI jobs (85 % of 1-15 GiB, 15 % of 20-70 GiB), 40 % encodes of
0.5-4 GiB; log-normal durations. Slots (16) and NVENC sessions (8) per GPU are set so that
VRAM is what binds. Each scenario runs with exact run-time estimates and with estimates
off by log-normal noise (sigma 0.3), as real ones are.

Figures: VRAM reserved as a share of the usable budget (capacity less margin) while the
backlog lasts (time-weighted); makespan (first submission to last completion); total
completion time (the sum over jobs of completion minus submission); the longest any job
waited once it was first in its class (what holds bound, and greedy admission does not).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scheduler.admission import AdmissionPolicy, plan_all
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob

T0 = datetime(2026, 11, 24, tzinfo=UTC)
MARGIN = 512
ISSUE_FLEET = [("h0", 16384), ("h1", 8192), ("h1", 8192), ("h2", 81920)]
SIX_GPUS = [
    ("h0", 81920),
    ("h0", 81920),
    ("h1", 24576),
    ("h1", 24576),
    ("h2", 16384),
    ("h2", 16384),
]
SLOTS, NVENC = 16, 8  # so that VRAM, not slots or encoder sessions, is what binds


@dataclass(frozen=True)
class TraceJob:
    id: int
    cls: str
    vram: int
    arrival: float
    duration: float
    estimate: float
    encoder: bool


def make_trace(count: int, seed: int, noise: float, at_once: int) -> list[TraceJob]:
    """``at_once`` jobs at t=0, the rest one every 4 s on average (see the module doc)."""
    rng = random.Random(seed)
    jobs = []
    t = 0.0
    for i in range(count):
        if i >= at_once:
            t += rng.expovariate(1 / 4.0)
        if rng.random() < 0.6:
            cls, encoder = "gpu_ai", False
            big = rng.random() < 0.15
            vram = rng.randint(20480, 71680) if big else rng.randint(1024, 15360)
            duration = rng.lognormvariate(math.log(45), 0.6)
        else:
            cls, encoder = "gpu_encode", True
            vram = rng.randint(512, 4096)
            duration = rng.lognormvariate(math.log(60), 0.5)
        off = rng.lognormvariate(0, noise) if noise else 1.0
        jobs.append(TraceJob(i + 1, cls, vram, t, duration, duration * off, encoder))
    return jobs


def fleet(sizes: list[tuple[str, int]]) -> Capacity:
    gpus = tuple(
        GpuView(
            uuid=f"GPU-{i}",
            host=host,
            index=i,
            name="sim",
            total_mib=size,
            free_mib=size,
            foreign_mib=0,
            slots=SLOTS,
            encoder_limit=NVENC,
        )
        for i, (host, size) in enumerate(sizes)
    )
    return Capacity(0, gpus)


@dataclass
class Result:
    name: str
    makespan: float
    utilisation: float
    backlog_s: float
    longest_head_wait: float
    total_completion: float
    passes: int
    seconds: float


def simulate(
    trace: list[TraceJob], sizes: list[tuple[str, int]], policy: AdmissionPolicy, name: str
) -> Result:
    capacity = fleet(sizes)
    budget = sum(g.total_mib - MARGIN for g in capacity.gpus)
    by_id = {j.id: j for j in trace}
    arrivals = sorted(trace, key=lambda j: j.arrival)
    pending: list[TraceJob] = []
    running: dict[int, tuple[str, float]] = {}  # id -> (gpu, start)
    ends: list[tuple[float, int]] = []
    now, next_arrival, done, passes = 0.0, 0, 0, 0
    reserved_area = backlog_time = 0.0
    started: dict[int, float] = {}
    head_since: dict[int, float] = {}  # when a job became the first pending of its class
    head_waits: list[float] = []
    wall = time.perf_counter()
    while done < len(trace):
        t_arrival = arrivals[next_arrival].arrival if next_arrival < len(arrivals) else math.inf
        t_end = ends[0][0] if ends else math.inf
        t_next = min(t_arrival, t_end)
        if pending:  # the backlog lasted from now to t_next at this reservation level
            reserved = sum(by_id[i].vram for i in running)
            reserved_area += reserved * (t_next - now)
            backlog_time += t_next - now
        now = t_next
        while ends and ends[0][0] <= now:
            _, job_id = heapq.heappop(ends)
            del running[job_id]
            done += 1
        while next_arrival < len(arrivals) and arrivals[next_arrival].arrival <= now:
            pending.append(arrivals[next_arrival])
            next_arrival += 1
        for cls in ("gpu_ai", "gpu_encode"):
            head = next((j for j in pending if j.cls == cls), None)
            if head is not None:
                head_since.setdefault(head.id, now)
        placed = admission_pass(pending, running, by_id, capacity, now, policy)
        passes += 1
        for job_id, gpu in placed.items():
            running[job_id] = (gpu, now)
            started[job_id] = now
            head_waits.append(now - head_since.get(job_id, now))
            heapq.heappush(ends, (now + by_id[job_id].duration, job_id))
        pending = [j for j in pending if j.id not in placed]
    completion = [started[j.id] + j.duration - j.arrival for j in trace]
    return Result(
        name,
        makespan=now,
        utilisation=reserved_area / (budget * backlog_time) if backlog_time else 0.0,
        backlog_s=backlog_time,
        longest_head_wait=max(head_waits, default=0.0),
        total_completion=sum(completion),
        passes=passes,
        seconds=time.perf_counter() - wall,
    )


def admission_pass(
    pending: list[TraceJob],
    running: dict[int, tuple[str, float]],
    by_id: dict[int, TraceJob],
    capacity: Capacity,
    now_s: float,
    policy: AdmissionPolicy,
) -> dict[int, str]:
    now = T0 + timedelta(seconds=now_s)
    queues: dict[str, list[PendingJob]] = {"gpu_ai": [], "gpu_encode": []}
    for j in pending:  # arrival order = exact order (one priority)
        queues[j.cls].append(
            PendingJob(
                j.id,
                j.cls,
                5,
                T0 + timedelta(seconds=j.arrival),
                j.vram,
                uses_encoder=j.encoder,
                expected_s=j.estimate,
            )
        )
    live = [
        LiveJob(
            i,
            by_id[i].cls,
            "running",
            gpu,
            by_id[i].vram,
            uses_encoder=by_id[i].encoder,
            started_at=T0 + timedelta(seconds=start),
            expected_end=T0 + timedelta(seconds=start + by_id[i].estimate),
        )
        for i, (gpu, start) in running.items()
    ]
    plan = plan_all(queues, live, capacity, now, MARGIN, policy)
    return {p.job_id: p.gpu_uuid or "" for p in plan.admitted}


POLICIES = [
    ("mediaq", AdmissionPolicy()),
    ("strict FIFO", AdmissionPolicy(backfill=False)),
    ("greedy", AdmissionPolicy(reserve_head=False)),
]


def scenario(title: str, sizes: list[tuple[str, int]], trace: list[TraceJob]) -> None:
    gib = "+".join(str(size // 1024) for _, size in sizes)
    print(f"{title} ({gib} GiB; {len(trace)} jobs):")
    results = [simulate(trace, sizes, policy, name) for name, policy in POLICIES]
    for r in results:
        print(
            f"  {r.name:>11}: VRAM reserved {100 * r.utilisation:5.1f} % of the usable budget "
            f"over {r.backlog_s:5.0f} s of backlog; makespan {r.makespan:5.0f} s; total "
            f"completion {r.total_completion / 3600:5.1f} h; longest wait at the head of a "
            f"class {r.longest_head_wait:5.0f} s ({r.passes} passes in {r.seconds:.1f} s)"
        )
    ours, fifo = results[0], results[1]
    print(
        f"  mediaq vs strict FIFO: makespan {100 * (1 - ours.makespan / fifo.makespan):.1f} % "
        f"shorter, total completion time "
        f"{100 * (1 - ours.total_completion / fifo.total_completion):.1f} % shorter"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"simulated time; seed {args.seed}; {SLOTS} slots, {NVENC} NVENC sessions per GPU")
    for noise in (0.0, 0.3):
        estimates = "exact estimates" if not noise else f"estimates off by sigma {noise}"
        for title, sizes, at_once in (
            ("issue fleet, all at once", ISSUE_FLEET, args.jobs),
            ("6-GPU fleet, 600 at once then a trickle", SIX_GPUS, 600),
        ):
            trace = make_trace(args.jobs, args.seed, noise, at_once)
            scenario(f"{title}, {estimates}", sizes, trace)


if __name__ == "__main__":
    main()
