"""The queue overview: per class counts, per host and GPU the live view (SPEC §4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from mediaq.jsonfmt import iso
from mediaq.pauses import load_pauses
from mediaq.settings import RESOURCE_CLASSES, Settings


def queue_overview(session: Session, settings: Settings) -> dict[str, Any]:
    """``{"classes": {...}, "hosts": [...]}`` as the job API returns it."""
    classes: dict[str, dict[str, int]] = {
        c: {"pending": 0, "queued": 0, "running": 0} for c in RESOURCE_CLASSES
    }
    for row in session.execute(
        text(
            "SELECT resource_category, status, count(*) AS n FROM jobs "
            "WHERE status IN ('pending', 'queued', 'running') GROUP BY 1, 2"
        )
    ):
        classes.setdefault(row.resource_category, {})[row.status] = int(row.n)
    # why the pending jobs of each class wait, by code: {"gpu_ai": {"RESOURCES_VRAM": 12}}
    waiting: dict[str, dict[str, int]] = {c: {} for c in RESOURCE_CLASSES}
    for row in session.execute(
        text(
            "SELECT resource_category, waiting_code, count(*) AS n FROM jobs "
            "WHERE status = 'pending' AND waiting_code IS NOT NULL GROUP BY 1, 2"
        )
    ):
        waiting.setdefault(row.resource_category, {})[row.waiting_code] = int(row.n)
    reserved = {
        row.assigned_gpu: (int(row.mib), int(row.n), int(row.running))
        for row in session.execute(
            text(
                "SELECT assigned_gpu, sum(vram_required) AS mib, count(*) AS n, "
                "coalesce(sum(vram_required) FILTER (WHERE status = 'running'), 0) AS running "
                "FROM jobs WHERE status IN ('queued', 'running') AND assigned_gpu IS NOT NULL "
                "GROUP BY 1"
            )
        )
    }
    hosts = []
    for host in session.execute(
        text(
            "SELECT name, classes, cpu_slots, gpu_slots, nvenc_sessions, draining, last_seen, "
            "last_seen > now() - make_interval(secs => :t) AS live "
            "FROM worker_hosts ORDER BY name"
        ),
        {"t": settings.host_timeout_s},
    ):
        gpus = [
            _gpu_view(g, reserved.get(g.uuid, (0, 0, 0)), settings.vram_margin_mib)
            for g in session.execute(
                text("SELECT * FROM gpus WHERE host_name = :h ORDER BY index"), {"h": host.name}
            )
        ]
        hosts.append(
            {
                "name": host.name,
                "live": bool(host.live),
                "lastSeen": iso(host.last_seen),
                "classes": host.classes,
                "cpuSlots": host.cpu_slots,
                "gpuSlots": host.gpu_slots,
                "nvencSessions": host.nvenc_sessions,
                "draining": host.draining,
                "gpus": gpus,
            }
        )
    # what is paused, by whom and since when (a class: "type" is null)
    paused = [p.to_json() for p in load_pauses(session)]
    return {"classes": classes, "waiting": waiting, "hosts": hosts, "pauses": paused}


def _gpu_view(g: Any, reserved: tuple[int, int, int], margin: int) -> dict[str, Any]:
    """One GPU as admission sees it: ``availableMib`` is what it may still promise.

    Foreign memory is counted as admission counts it: the larger of what processes that
    are not ours hold and what is used beyond our running jobs' reservations.
    """
    mib, jobs, running = reserved
    foreign = max(g.foreign_mib, g.used_mib - running, 0)
    return {
        "uuid": g.uuid,
        "index": g.index,
        "name": g.name,
        "totalMib": g.total_mib,
        "freeMib": g.free_mib,
        "usedMib": g.used_mib,
        "reservedMib": mib,
        "reservedJobs": jobs,
        "foreignMib": foreign,
        "availableMib": max(0, g.total_mib - mib - foreign - margin) if g.healthy else 0,
        "encoderSessions": g.encoder_sessions,
        "healthy": g.healthy,
    }
