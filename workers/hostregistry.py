"""The daemon's writes: register the host and its GPUs, heartbeat their snapshots."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from mediaq.settings import Settings
from workers.gpu_backend import GpuSnapshot


def register_host(conn: Connection, settings: Settings, nvenc_sessions: int) -> None:
    """Insert or refresh this host's row (classes, slots, encoder limit)."""
    conn.execute(
        text(
            """
            INSERT INTO worker_hosts (name, classes, cpu_slots, gpu_slots, nvenc_sessions,
                                      draining, started_at, last_seen)
            VALUES (:name, CAST(:classes AS jsonb), :cpu, :gpu, :nvenc, false, now(), now())
            ON CONFLICT (name) DO UPDATE SET classes = EXCLUDED.classes,
                   cpu_slots = EXCLUDED.cpu_slots, gpu_slots = EXCLUDED.gpu_slots,
                   nvenc_sessions = EXCLUDED.nvenc_sessions, draining = false,
                   started_at = now(), last_seen = now()
            """
        ),
        {
            "name": settings.host_name,
            "classes": _json_list(settings.classes),
            "cpu": settings.concurrency if "cpu" in settings.classes else 0,
            "gpu": settings.gpu_slots,
            "nvenc": nvenc_sessions,
        },
    )


def heartbeat_host(
    conn: Connection, host: str, snapshots: Sequence[GpuSnapshot], our_pids: frozenset[int]
) -> None:
    """Refresh the host's last_seen and every GPU's latest numbers in one transaction.

    A lost GPU keeps its last numbers and is only marked unhealthy: the scheduler excludes
    it at once. A GPU registered for this host that the snapshot no longer lists is lost too.
    """
    conn.execute(text("UPDATE worker_hosts SET last_seen = now() WHERE name = :h"), {"h": host})
    for snap in snapshots:
        if snap.healthy:
            _upsert_gpu(conn, host, snap, our_pids)
        else:
            conn.execute(
                text(
                    "UPDATE gpus SET healthy = false, last_seen = now() "
                    "WHERE uuid = :uuid AND host_name = :host"
                ),
                {"uuid": snap.uuid, "host": host},
            )
    conn.execute(
        text(
            "UPDATE gpus SET healthy = false WHERE host_name = :host AND healthy "
            "AND NOT (uuid = ANY(:seen))"
        ),
        {"host": host, "seen": [s.uuid for s in snapshots]},
    )


def _upsert_gpu(conn: Connection, host: str, snap: GpuSnapshot, our_pids: frozenset[int]) -> None:
    conn.execute(
        text(
            """
            INSERT INTO gpus (uuid, host_name, index, name, total_mib, free_mib, used_mib,
                              foreign_mib, encoder_sessions, encoder_capacity, healthy,
                              last_seen)
            VALUES (:uuid, :host, :index, :name, :total, :free, :used, :foreign,
                    :enc, :cap, true, now())
            ON CONFLICT (uuid) DO UPDATE SET host_name = EXCLUDED.host_name,
                   index = EXCLUDED.index, name = EXCLUDED.name,
                   total_mib = EXCLUDED.total_mib, free_mib = EXCLUDED.free_mib,
                   used_mib = EXCLUDED.used_mib, foreign_mib = EXCLUDED.foreign_mib,
                   encoder_sessions = EXCLUDED.encoder_sessions,
                   encoder_capacity = EXCLUDED.encoder_capacity,
                   healthy = true, last_seen = now()
            """
        ),
        {
            "uuid": snap.uuid,
            "host": host,
            "index": snap.index,
            "name": snap.name,
            "total": snap.total_mib,
            "free": snap.free_mib,
            "used": snap.used_mib,
            "foreign": snap.foreign_mib(our_pids),
            "enc": snap.encoder_sessions,
            "cap": snap.encoder_capacity,
        },
    )


def mark_draining(conn: Connection, host: str) -> None:
    """At the start of a stop: nothing new is placed here while running jobs finish."""
    conn.execute(text("UPDATE worker_hosts SET draining = true WHERE name = :h"), {"h": host})


def mark_gone(conn: Connection, host: str) -> None:
    """On a clean stop: no new work for this host from now on."""
    conn.execute(
        text("UPDATE worker_hosts SET last_seen = 'epoch', draining = true WHERE name = :h"),
        {"h": host},
    )


def _json_list(values: Sequence[str]) -> str:
    import json

    return json.dumps(list(values))
