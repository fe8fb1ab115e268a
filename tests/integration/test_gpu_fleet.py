"""GPU admission end to end: three fake GPU hosts, real PostgreSQL, Redis and Celery.

A sampler reads the ledger (queued and running jobs with their GPU) every 100 ms while
300 GPU jobs run: no GPU may ever be promised more than it has.
"""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.settings import Settings
from tests.integration.fleet import (
    fleet,
    query,
    scalar,
    status_counts,
    wait_for_workers,
    wait_until,
)

GPU_ONLY = ("gpu_ai", "gpu_encode")
HOSTS = [{"fake_gpus": (16384,)}, {"fake_gpus": (8192, 8192)}, {"fake_gpus": (81920,)}]

LEDGER = """
    SELECT g.uuid, g.total_mib, g.foreign_mib, h.gpu_slots, h.nvenc_sessions,
           coalesce(sum(j.vram_required), 0) AS reserved, count(j.id) AS jobs,
           count(j.id) FILTER (WHERE (j.params->>'usesEncoder')::boolean) AS encoders
      FROM gpus g JOIN worker_hosts h ON h.name = g.host_name
      LEFT JOIN jobs j ON j.assigned_gpu = g.uuid AND j.status IN ('queued', 'running')
     GROUP BY g.uuid, g.total_mib, g.foreign_mib, h.gpu_slots, h.nvenc_sessions
"""


class LedgerSampler:
    """Reads the ledger every ``interval`` seconds and keeps every over-commitment seen."""

    def __init__(self, settings: Settings, interval: float = 0.1) -> None:
        self.settings = settings
        self.interval = interval
        self.samples = 0
        self.max_reserved: dict[str, int] = {}
        self.violations: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LedgerSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        margin = self.settings.vram_margin_mib
        while not self._stop.wait(self.interval):
            for r in query(self.settings, LEDGER):
                self.max_reserved[r.uuid] = max(self.max_reserved.get(r.uuid, 0), r.reserved)
                if r.reserved + r.foreign_mib + margin > r.total_mib:
                    self.violations.append(f"{r.uuid}: {r.reserved} MiB of {r.total_mib}")
                if r.jobs > r.gpu_slots:
                    self.violations.append(f"{r.uuid}: {r.jobs} jobs > {r.gpu_slots} slots")
                if r.encoders > r.nvenc_sessions:
                    self.violations.append(f"{r.uuid}: {r.encoders} encoder sessions")
            self.samples += 1


def _random_gpu_jobs(count: int, seed: int) -> list[JobSpec]:
    rng = random.Random(seed)
    specs = []
    for _ in range(count):
        category = rng.choice(GPU_ONLY)
        # mostly jobs any GPU can take, some only the 16 GiB or the 80 GiB GPU can
        vram = rng.choice(
            [rng.randint(256, 4096), rng.randint(4096, 7680), rng.randint(7680, 40000)]
        )
        params: dict[str, Any] = {"seconds": round(rng.uniform(0.02, 0.3), 3)}
        if category == "gpu_encode":
            params["usesEncoder"] = True
        specs.append(JobSpec("noop", params, resource_category=category, vram_required=vram))
    return specs


def test_300_gpu_jobs_on_three_hosts_complete_and_no_gpu_is_ever_overcommitted(
    settings: Settings, tmp_path: Path
) -> None:
    # 24 GPU slots and three daemons share two cores here: generous liveness timeouts, so a
    # starved heartbeat is not rescued (rescue has tests of its own); this test is about
    # placement and the ledger.
    s = replace(
        settings,
        classes=GPU_ONLY,
        gpu_slots=6,
        nvenc_sessions=2,
        heartbeat_timeout_s=15.0,
        host_timeout_s=15.0,
    )
    with fleet(s, tmp_path, workers=3, worker_overrides=HOSTS):
        wait_for_workers(s, 3)
        wait_until(lambda: scalar(s, "SELECT count(*) FROM gpus") == 4, 30, what="4 GPUs")
        with LedgerSampler(s) as sampler:
            with transaction(s.database_url) as session:
                too_big = enqueue(
                    session, JobSpec("noop", resource_category="gpu_ai", vram_required=90000)
                )
                enqueue_many(session, _random_gpu_jobs(300, seed=11))
            wait_until(
                lambda: status_counts(s).get("completed", 0) == 300, 50, what="300 GPU jobs done"
            )
        row = query(
            s, "SELECT status, waiting_code, waiting_reason FROM jobs WHERE id = :i", i=too_big
        )[0]
    assert sampler.violations == []
    assert sampler.samples >= 20
    # the 80 GiB GPU really was shared by many jobs at once
    assert max(sampler.max_reserved.values()) > 16384
    assert row.status == "pending"
    assert row.waiting_code == "NEVER_FITS"
    assert "needs 90000 MiB" in row.waiting_reason
    # jobs ran on the GPU they were admitted to, by that GPU's own worker
    assert (
        scalar(
            s,
            "SELECT count(*) FROM jobs WHERE status = 'completed' "
            "AND (assigned_gpu IS NULL OR attempt <> 1)",
        )
        == 0
    )
