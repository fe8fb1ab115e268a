"""Named values the whole fleet shares through the ``fleet_settings`` table.

- ``library_id``: the media library every process must mount (``mediaq.library``).
- ``cpu_only``: ``true`` when the fleet has no GPU and GPU job types run on CPU slots by
  default. ``mediaq up`` writes it when it finds no GPU, so a ``mediaq enqueue`` from another
  terminal routes like the API of that ``up`` does. ``MEDIAQ_CPU_ONLY`` in a process's own
  environment always wins over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, text

from mediaq.settings import Settings, env_name

CPU_ONLY = "cpu_only"


def read_setting(conn: Connection, name: str) -> str | None:
    value = conn.execute(
        text("SELECT value FROM fleet_settings WHERE name = :n"), {"n": name}
    ).scalar_one_or_none()
    return None if value is None else str(value)


def write_setting(conn: Connection, name: str, value: str | None) -> None:
    """Set (or, with None, remove) a fleet setting."""
    if value is None:
        conn.execute(text("DELETE FROM fleet_settings WHERE name = :n"), {"n": name})
        return
    conn.execute(
        text(
            "INSERT INTO fleet_settings (name, value) VALUES (:n, :v) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
        ),
        {"n": name, "v": value},
    )


def effective_cpu_only(
    settings: Settings, environ: Mapping[str, str], fleet_value: str | None
) -> bool:
    """The process's own ``MEDIAQ_CPU_ONLY`` when set, else what the fleet recorded (pure)."""
    if env_name("cpu_only") in environ:
        return settings.cpu_only
    return fleet_value == "true"


def fleet_cpu_only(conn: Connection, settings: Settings, environ: Mapping[str, str]) -> bool:
    if env_name("cpu_only") in environ:
        return settings.cpu_only
    return effective_cpu_only(settings, environ, read_setting(conn, CPU_ONLY))
