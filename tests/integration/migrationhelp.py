"""What the migration tests read back from a database they migrated."""

from __future__ import annotations

from typing import Any

import psycopg


def table_columns(conn: psycopg.Connection[Any], table: str) -> set[str]:
    """The column names ``table`` has now."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
    )
    return {r[0] for r in rows}
