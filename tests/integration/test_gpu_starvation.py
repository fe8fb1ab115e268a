"""No starvation on real services: a 70 GiB job behind an endless stream of 8 GiB jobs on
one 80 GiB GPU starts within the longest small job's duration plus one tick of reaching the
head of its class."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.settings import Settings
from tests.integration.fleet import fleet, query, scalar, wait_for_workers, wait_until

SMALL_MIB = 8192
BIG_MIB = 70 * 1024
SHORTEST_S, LONGEST_S = 0.6, 1.2
DISPATCH_GRACE_S = 1.0  # publish, Celery delivery and the claim on a loaded 2-core machine

AHEAD = """
    SELECT count(*) FROM jobs o, jobs b
     WHERE b.id = :big AND o.status = 'pending' AND o.resource_category = b.resource_category
       AND (o.priority > b.priority OR (o.priority = b.priority
            AND (o.created_at, o.id) < (b.created_at, b.id)))
"""


class SmallJobStream:
    """Keeps a backlog of 8 GiB jobs pending, forever (until closed)."""

    def __init__(self, settings: Settings, backlog: int = 12) -> None:
        self.settings = settings
        self.backlog = backlog
        self.rng = random.Random(5)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            pending = scalar(
                self.settings,
                "SELECT count(*) FROM jobs WHERE status = 'pending' AND vram_required = :m",
                m=SMALL_MIB,
            )
            if pending < self.backlog:
                self.add(self.backlog - pending)

    def add(self, count: int) -> None:
        specs = [
            JobSpec(
                "noop",
                {"seconds": round(self.rng.uniform(SHORTEST_S, LONGEST_S), 2)},
                resource_category="gpu_ai",
                vram_required=SMALL_MIB,
            )
            for _ in range(count)
        ]
        with transaction(self.settings.database_url) as session:
            enqueue_many(session, specs)


def test_big_job_behind_endless_small_ones_starts_within_longest_small_plus_one_tick(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, classes=("gpu_ai",), gpu_slots=10)
    stream = SmallJobStream(s)
    with fleet(s, tmp_path, workers=1, worker_overrides=[{"fake_gpus": (81920,)}]):
        wait_for_workers(s, 1)
        stream.thread.start()
        try:
            # steady state: the GPU full of small jobs, more of them waiting
            wait_until(
                lambda: scalar(s, "SELECT count(*) FROM jobs WHERE status = 'completed'") >= 10,
                30,
                what="the stream flowing",
            )
            with transaction(s.database_url) as session:
                big = enqueue(
                    session, JobSpec("noop", resource_category="gpu_ai", vram_required=BIG_MIB)
                )
            reached: datetime = wait_until(
                lambda: scalar(s, AHEAD, big=big) == 0 and scalar(s, "SELECT now()"),
                30,
                interval=0.02,
                what="the big job at the head of gpu_ai",
            )
            started: datetime = wait_until(
                lambda: scalar(s, "SELECT started_at FROM jobs WHERE id = :i", i=big),
                15,
                interval=0.05,
                what="the big job started (it starved)",
            )
            # the hold ends with the big job: the small ones queued behind it run again
            wait_until(
                lambda: scalar(
                    s,
                    "SELECT count(*) FROM jobs WHERE vram_required = :m AND id > :big "
                    "AND status = 'completed'",
                    m=SMALL_MIB,
                    big=big,
                ),
                20,
                what="small jobs behind the big one running",
            )
        finally:
            stream.stop.set()
            stream.thread.join(5)
    waited = (started - reached).total_seconds()
    bound = LONGEST_S + s.scheduler_tick_s + DISPATCH_GRACE_S
    assert waited <= bound, f"the big job waited {waited:.2f} s at the head (bound {bound} s)"
    reasons = query(
        s,
        "SELECT DISTINCT waiting_code FROM jobs WHERE status = 'pending' AND waiting_code "
        "IS NOT NULL",
    )
    assert {r.waiting_code for r in reasons} <= {
        "RESOURCES_VRAM",
        "DRAINING_FOR",
        "SLOTS_BUSY",
    }
