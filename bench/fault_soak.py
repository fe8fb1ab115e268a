"""The fault soak: mixed jobs flowing while faults are injected at random.

    .venv/bin/python -m bench.fault_soak --minutes 30 --every 10 20

The fleet of ``tests/faults`` (``tests.faults.scenario``: worker hosts in network
namespaces with a fake GPU each; two schedulers; scratch PostgreSQL and Redis of its own;
needs root). Jobs: noop of 0.2-3 s (some on a GPU, reserving VRAM), GIFs and thumbnails
of a test clip, kept at a backlog of about 20. Every 10-20 s (``--every``) one fault of
``tests.faults.faults``, in rounds that draw every kind once in a random order: partition
a host (from everything, from PostgreSQL only, from Redis only) and heal it,
SIGSTOP/SIGCONT a host past the heartbeat timeout, SIGKILL a daemon (then start it
again), SIGKILL a Celery pool child, restart PostgreSQL, restart Redis, flush Redis, kill
the leading scheduler (then start another), step a host's wall clock 10 minutes ahead
then behind.

A fault whose recovery is not seen within 120 s is counted (``notRecovered``) and the
run goes on. Printed at the end: faults by kind, jobs enqueued / completed / failed /
lost, completed twice, status changes by superseded attempts, leaked reservations, the
longest time two attempts of one job ran processes at once (any job type: a worker
process is named after the attempt it runs), and per fault kind the time from the fault
to full recovery (a probe job enqueued when the fault is healed has completed and every
host heartbeats again).

For comparison: vanilla Celery delivered 92 % of tasks across 5 SIGKILLs of its worker
(Relier's published benchmark); mediaq's goal is 100 % (0 lost).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from collections import Counter, defaultdict

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from tests.faults.audit import check_invariants
from tests.faults.faults import OverlapSampler, busiest_host, fault_rounds, inject
from tests.faults.harness import FaultFleet, wait_for
from tests.faults.scenario import ready_fleet, settle, video_id

BACKLOG = 20


class Load:
    """Keeps about ``BACKLOG`` jobs waiting or running; remembers every id."""

    def __init__(self, fleet: FaultFleet, video_id: int, rng: random.Random) -> None:
        self.fleet = fleet
        self.video_id = video_id
        self.rng = rng
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _spec(self) -> JobSpec:
        roll = self.rng.random()
        if roll < 0.1:  # on a host's (fake) GPU, reserving VRAM
            return JobSpec("noop", {"seconds": 1.0}, resource_category="gpu_ai", vram_required=2048)
        if roll < 0.25:
            return JobSpec("generate_gif", {"videoId": self.video_id, "duration": 1.5})
        if roll < 0.35:
            return JobSpec("thumbnail", {"videoId": self.video_id, "at": 0.5})
        return JobSpec("noop", {"seconds": round(self.rng.uniform(0.2, 3.0), 1)})

    def _loop(self) -> None:
        assert self.fleet.settings is not None
        while not self.stop.wait(0.5):
            try:
                open_jobs = self.fleet.scalar(
                    "SELECT count(*) FROM jobs WHERE status IN ('pending', 'queued', 'running')"
                )
                missing = BACKLOG - int(open_jobs)
                if missing > 0:
                    with transaction(self.fleet.settings.database_url) as session:
                        self.ids += enqueue_many(session, [self._spec() for _ in range(missing)])
            except Exception:  # the database is being restarted: try again shortly
                time.sleep(0.5)


def recovered(fleet: FaultFleet, probe: int) -> bool:
    try:
        done = fleet.scalar("SELECT status = 'completed' FROM jobs WHERE id = :i", i=probe)
        fresh = fleet.scalar(
            "SELECT count(*) FROM worker_hosts WHERE last_seen > now() - interval '2 s'"
        )
    except Exception:
        return False
    return bool(done) and int(fresh) == len(fleet.hosts)


def soak(minutes: float, every: tuple[float, float], seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    faults = fault_rounds(rng)
    with ready_fleet() as fleet:
        assert fleet.settings is not None
        url = fleet.settings.database_url
        load = Load(fleet, video_id(fleet), rng)
        load.thread.start()
        injected: Counter[str] = Counter()
        recovery: dict[str, list[float]] = defaultdict(list)
        not_recovered: Counter[str] = Counter()
        probes: list[int] = []
        deadline = time.monotonic() + minutes * 60
        with OverlapSampler(fleet) as overlap:
            while time.monotonic() < deadline:
                time.sleep(rng.uniform(*every))
                fault = next(faults)
                try:
                    host = busiest_host(fleet, load.ids[-BACKLOG * 3 :])
                except AssertionError:  # nothing running right now
                    host = fleet.hosts[0]
                started = time.monotonic()
                inject(fleet, fault, host)
                injected[fault] += 1
                try:
                    probe = wait_for(lambda: _probe(fleet), 60, "probe enqueued")
                    probes.append(probe)
                    wait_for(lambda p=probe: recovered(fleet, p), 120, f"recovery from {fault}")
                except AssertionError as exc:
                    not_recovered[fault] += 1
                    print(f"{fault}: {exc}", flush=True)
                    continue
                recovery[fault].append(time.monotonic() - started)
                print(f"{fault}: recovered in {recovery[fault][-1]:.1f} s", flush=True)
            load.stop.set()
            load.thread.join(10)
            ids = load.ids + probes
            try:
                settle(fleet, ids, 180)
            except AssertionError as exc:
                print(exc)
        verdict = check_invariants(url, ids)
        failed = int(
            fleet.scalar(
                "SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND status = 'failed'", ids=ids
            )
        )
    return {
        "minutes": minutes,
        "faults": dict(injected),
        "faultsTotal": sum(injected.values()),
        "notRecovered": dict(not_recovered),
        "jobs": len(ids),
        "completed": verdict.completed,
        "failed": failed,
        "lost": len(verdict.not_terminal),
        "completedTwice": len(verdict.completed_twice),
        "staleWrites": len(verdict.stale_writes),
        "leakedReservations": len(verdict.leaked_reservations),
        "longestOverlapS": round(overlap.longest_s, 2),
        "deliveredPct": round(100 * verdict.completed / max(1, len(ids)), 2),
        "recoveryS": {
            k: {"median": round(statistics.median(v), 1), "max": round(max(v), 1), "n": len(v)}
            for k, v in sorted(recovery.items())
        },
    }


def _probe(fleet: FaultFleet) -> int | None:
    assert fleet.settings is not None
    try:
        with transaction(fleet.settings.database_url) as session:
            return enqueue(session, JobSpec("noop", {"seconds": 0}, priority=100))
    except Exception:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, nargs=2, default=(10.0, 20.0))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = soak(args.minutes, (args.every[0], args.every[1]), args.seed)
    print(json.dumps(report, indent=2))
    print(
        f"delivered {report['deliveredPct']} % of {report['jobs']} jobs across "
        f"{report['faultsTotal']} faults (vanilla Celery, Relier's benchmark: 92 % across "
        "5 SIGKILLs)"
    )


if __name__ == "__main__":
    main()
