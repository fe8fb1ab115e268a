"""The worker-side preflight: is the admitted memory still there, just before a GPU job starts?

Admission worked from a snapshot up to one heartbeat old; another process may have taken
memory since. The pool child asks the host daemon for a fresh NVML sample of its GPU (never
NVML itself: it is a forked child), reads the other reservations on that GPU from the
ledger, and refuses with ``PreflightFailed`` and the measured numbers when the job no
longer fits. ``tasks.run_job`` then returns the job to pending (``PREFLIGHT_FAILED``), not
counting a failure, and the fresh numbers are stored on the GPU's row so the next
admission pass sees them at once instead of placing the job there again.

Admission keeps a safety margin; the preflight does not: it refuses only when the memory
is really gone, so a small fluctuation inside the margin does not bounce a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from mediaq.db import engine_for
from mediaq.errors import PreflightFailed
from mediaq.hostpaths import preflight_socket
from mediaq.preflightwire import PreflightUnavailable, ask_daemon
from mediaq.settings import Settings
from mediaq.transitions import Claim
from tasks.run_job import Preflight


@dataclass(frozen=True)
class GpuNow:
    """A fresh sample of one GPU from the host daemon (MiB)."""

    uuid: str
    host: str
    total_mib: int  # capacity
    free_mib: int
    used_mib: int
    foreign_mib: int  # held by processes that are not ours

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> GpuNow:
        return cls(
            uuid=str(reply["uuid"]),
            host=str(reply.get("host", "")),
            total_mib=int(reply["totalMib"]),
            free_mib=int(reply["freeMib"]),
            used_mib=int(reply["usedMib"]),
            foreign_mib=int(reply["foreignMib"]),
        )


@dataclass(frozen=True)
class OtherJobs:
    """The rest of the GPU's ledger: the other queued and running jobs on it."""

    reserved_mib: int = 0
    jobs: int = 0
    running_mib: int = 0


def preflight_verdict(need_mib: int, gpu: GpuNow, others: OtherJobs) -> str | None:
    """None when the job still fits; else a ``PREFLIGHT_FAILED`` sentence with the numbers.

    Foreign memory is counted as admission counts it: the larger of what foreign processes
    hold and what is used beyond our running jobs' reservations.
    """
    foreign = max(gpu.foreign_mib, gpu.used_mib - others.running_mib, 0)
    available = gpu.total_mib - foreign - others.reserved_mib
    if need_mib <= available:
        return None
    jobs = others.jobs
    return (
        f"PREFLIGHT_FAILED: needs {need_mib} MiB; GPU {gpu.host}/{gpu.uuid} has "
        f"{max(0, available)} MiB available now (free {gpu.free_mib} of {gpu.total_mib} MiB, "
        f"{foreign} used by other processes, {others.reserved_mib} reserved by {jobs} other "
        f"job{'s' if jobs != 1 else ''})"
    )


def other_jobs(conn: Connection, gpu_uuid: str, job_id: int) -> OtherJobs:
    """The ledger of one GPU without the job being checked."""
    row = conn.execute(
        text(
            """
            SELECT coalesce(sum(vram_required), 0) AS reserved, count(*) AS jobs,
                   coalesce(sum(vram_required) FILTER (WHERE status = 'running'), 0) AS running
              FROM jobs
             WHERE status IN ('queued', 'running') AND assigned_gpu = :gpu AND id <> :id
            """
        ),
        {"gpu": gpu_uuid, "id": job_id},
    ).one()
    return OtherJobs(int(row.reserved), int(row.jobs), int(row.running))


def gpu_preflight(settings: Settings, timeout_s: float = 3.0) -> Preflight:
    """The preflight of this host's GPU workers (``register_run_job(..., preflight=)``)."""
    socket_path = preflight_socket(settings.host_name)

    def check(claim: Claim) -> None:
        uuid = claim.assigned_gpu
        if not uuid:
            return
        where = f"{claim.assigned_host or settings.host_name}/{uuid}"
        try:
            reply = ask_daemon(socket_path, uuid, timeout_s)
        except PreflightUnavailable as exc:
            raise PreflightFailed(f"PREFLIGHT_FAILED: cannot check GPU {where}: {exc}") from exc
        if reply is None:
            raise PreflightFailed(
                f"PREFLIGHT_FAILED: GPU {where} is lost (NVML no longer finds it)"
            )
        gpu = GpuNow.from_reply(reply)
        engine = engine_for(settings.database_url)
        with engine.connect() as conn:
            others = other_jobs(conn, uuid, claim.job_id)
        verdict = preflight_verdict(claim.vram_required, gpu, others)
        if verdict is None:
            return
        with engine.begin() as conn:
            record_sample(conn, uuid, gpu.free_mib, gpu.used_mib, gpu.foreign_mib)
        raise PreflightFailed(verdict)

    return check


def record_sample(conn: Connection, uuid: str, free: int, used: int, foreign: int) -> None:
    """Store fresher numbers of one GPU (a refused preflight), so admission sees them now."""
    conn.execute(
        text(
            "UPDATE gpus SET free_mib = :free, used_mib = :used, foreign_mib = :foreign "
            "WHERE uuid = :uuid"
        ),
        {"uuid": uuid, "free": free, "used": used, "foreign": foreign},
    )
