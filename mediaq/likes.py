"""Text searched with SQL ``LIKE``: the wildcards in a search term are taken literally."""

from __future__ import annotations


def escape_like(value: str) -> str:
    r"""``value`` as a literal inside a LIKE pattern (``%``, ``_`` and ``\`` escaped)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(term: str) -> str:
    """``%term%``: the values that contain ``term`` as written."""
    return f"%{escape_like(term)}%"
