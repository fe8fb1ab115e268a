"""JSON formatting shared by every role: ISO-8601 UTC timestamps with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | None) -> str | None:
    """``2026-02-11T15:50:00.000Z`` (the seed's format), or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
