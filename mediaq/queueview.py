"""The queue overview: per class counts, per host and GPU the live view (SPEC §4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from mediaq.jsonfmt import iso
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
    reserved = {
        row.assigned_gpu: (int(row.mib), int(row.n))
        for row in session.execute(
            text(
                "SELECT assigned_gpu, sum(vram_required) AS mib, count(*) AS n FROM jobs "
                "WHERE status IN ('queued', 'running') AND assigned_gpu IS NOT NULL GROUP BY 1"
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
            {
                "uuid": g.uuid,
                "index": g.index,
                "name": g.name,
                "totalMib": g.total_mib,
                "freeMib": g.free_mib,
                "reservedMib": reserved.get(g.uuid, (0, 0))[0],
                "reservedJobs": reserved.get(g.uuid, (0, 0))[1],
                "foreignMib": g.foreign_mib,
                "encoderSessions": g.encoder_sessions,
                "healthy": g.healthy,
            }
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
    return {"classes": classes, "hosts": hosts}
