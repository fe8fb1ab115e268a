"""Losing GPUs and hosts on real services: excluded at once, their jobs placed elsewhere."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.settings import Settings
from tests.integration.fleet import fleet, query, scalar, status_counts, wait_until
from workers.nvml_fake import FakeGpuControl

# Long enough that a GPU lost just after its jobs started is seen lost (a heartbeat, 0.5 s,
# plus the daemon's reaction) while they still run, on a loaded machine too.
JOB_S = 4.0


def gpu_job(seconds: float, vram: int) -> JobSpec:
    return JobSpec("noop", {"seconds": seconds}, resource_category="gpu_ai", vram_required=vram)


def gpu_running_two(s: Settings) -> str | None:
    """The GPU with two jobs running, if any."""
    return scalar(
        s,
        "SELECT assigned_gpu FROM jobs WHERE status = 'running' GROUP BY 1"
        " HAVING count(*) = 2 ORDER BY min(started_at) LIMIT 1",
    )


def test_lost_gpu_is_excluded_at_once_and_its_jobs_finish_on_the_other_gpu(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, classes=("gpu_ai",), gpu_slots=2)
    host = f"{s.host_name}-w0"
    control = FakeGpuControl(host)
    control.reset()
    try:
        with fleet(s, tmp_path, workers=1, worker_overrides=[{"fake_gpus": (16384, 16384)}]):
            wait_until(lambda: scalar(s, "SELECT count(*) FROM gpus") == 2, 30, what="GPUs")
            with transaction(s.database_url) as session:
                ids = enqueue_many(session, [gpu_job(JOB_S, 6000) for _ in range(4)])
            # Two per GPU (6000 MiB each, two slots). The GPU whose two jobs run first is lost
            # at once: its jobs must still be running when the daemon sees it gone.
            lost = wait_until(lambda: gpu_running_two(s), 30, what="two jobs running on a GPU")
            [other] = {control.uuid(0), control.uuid(1)} - {lost}
            on_lost = [
                r.id for r in query(s, "SELECT id FROM jobs WHERE assigned_gpu = :g", g=lost)
            ]
            assert len(on_lost) == 2
            control.lose(lost)
            wait_until(
                lambda: scalar(s, "SELECT NOT healthy FROM gpus WHERE uuid = :g", g=lost),
                15,
                what="the GPU marked lost",
            )
            wait_until(
                lambda: status_counts(s).get("completed", 0) == 4, 60, what="all 4 completed"
            )
            # nothing was placed on the lost GPU again
            rows = query(
                s,
                "SELECT id, assigned_gpu, failures, log FROM jobs WHERE id = ANY(:ids)",
                ids=on_lost,
            )
            assert {r.assigned_gpu for r in rows} == {other}
            # each lost attempt counted as a failure and said why: the daemon's release ("GPU
            # ... lost; placed again") or, when the attempt's own end won that race, the
            # heartbeat or the handler ("... lost")
            seen = [(r.failures, r.log) for r in rows]
            assert all(r.failures >= 1 and " lost" in r.log for r in rows), seen
            # ... not even for a moment (the rescue would have had to withdraw it)
            assert not any("lost or its host silent" in r.log for r in rows)
            # the GPU comes back: its worker starts again and takes work
            control.lose(lost, lost=False)
            wait_until(
                lambda: scalar(s, "SELECT healthy FROM gpus WHERE uuid = :g", g=lost),
                15,
                what="the GPU back",
            )
            with transaction(s.database_url) as session:
                more = enqueue_many(session, [gpu_job(1.0, 12000) for _ in range(2)])
            wait_until(
                lambda: (
                    scalar(
                        s,
                        "SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND status = 'completed'",
                        ids=more,
                    )
                    == 2
                ),
                20,
                what="two more jobs done",
            )
            gpus = {
                r.assigned_gpu
                for r in query(s, "SELECT assigned_gpu FROM jobs WHERE id = ANY(:i)", i=more)
            }
            assert gpus == {lost, other}  # 12000 MiB each: one per GPU, at the same time
            assert len(ids) == 4
    finally:
        control.remove()


def test_host_whose_heartbeat_stops_gets_no_new_work_and_its_queued_jobs_move(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, classes=("gpu_ai",), gpu_slots=2)
    hosts = [{"fake_gpus": (16384,)}, {"fake_gpus": (16384,)}]
    with fleet(s, tmp_path, workers=2, worker_overrides=hosts) as (_, workers):
        wait_until(lambda: scalar(s, "SELECT count(*) FROM gpus") == 2, 30, what="GPUs")
        dead_host = f"{s.host_name}-w0"
        workers[0].kill_hard()
        # right away the dead host still looks alive: some jobs may be queued to it
        with transaction(s.database_url) as session:
            ids = enqueue_many(session, [gpu_job(0.2, 4000) for _ in range(12)])
        wait_until(
            lambda: status_counts(s).get("completed", 0) == 12,
            40,
            what="all jobs completed on the live host",
        )
        ran_on = {
            r.assigned_host
            for r in query(s, "SELECT assigned_host FROM jobs WHERE id = ANY(:i)", i=ids)
        }
        assert ran_on == {f"{s.host_name}-w1"}
        # and once it is known silent, nothing is placed there at all
        with transaction(s.database_url) as session:
            later = enqueue_many(session, [gpu_job(0.1, 4000) for _ in range(4)])
        wait_until(
            lambda: (
                scalar(
                    s,
                    "SELECT count(*) FROM jobs WHERE id = ANY(:i) AND status = 'completed'",
                    i=later,
                )
                == 4
            ),
            20,
            what="later jobs done",
        )
        assert (
            scalar(
                s,
                "SELECT count(*) FROM jobs WHERE assigned_host = :h",
                h=dead_host,
            )
            == 0
        )
