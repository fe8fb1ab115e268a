"""How many jobs, at the cost of what is live, not of the whole history.

Live jobs (pending, queued, running) are counted from the table, over indexes whose size is
the live set. Finished jobs are read from ``job_count_totals``: the counts kept exact by
triggers in the same transaction as every change (migrations 0004, 0008), as folded counts
plus the deltas not folded yet. With a million finished jobs in the table, a scrape or a
list's total costs what it did on an empty one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from mediaq.models import FINISHED_STATUSES

LIVE_STATUSES = ("pending", "queued", "running")
# As literals, so the planner can use the indexes whose predicate is the live set.
LIVE_IN = ", ".join(f"'{s}'" for s in LIVE_STATUSES)
Conn = Connection | Session


def counts_by_class_status(conn: Conn) -> dict[tuple[str, str], int]:
    """``{(class, status): n}`` for every status.

    One statement, so one snapshot: a job finishing meanwhile is counted once, either live or
    finished. Finished counts come from ``job_count_totals`` (folded counts plus the deltas
    not folded yet), so a job finished a moment ago is counted before the fold runs.
    """
    out: dict[tuple[str, str], int] = {}
    for row in conn.execute(
        text(
            "SELECT resource_category AS c, status AS s, count(*) AS n FROM jobs "
            f"WHERE status IN ({LIVE_IN}) GROUP BY 1, 2 "
            "UNION ALL "
            "SELECT resource_category, status, sum(n) FROM job_count_totals GROUP BY 1, 2"
        )
    ):
        if row.n:
            out[(row.c, row.s)] = int(row.n)
    return out


def count_jobs(
    conn: Conn,
    status: str | None = None,
    job_type: str | None = None,
    resource_category: str | None = None,
) -> int:
    """The exact number of jobs matching the given equality filters."""
    total = 0
    statuses = [status] if status else [*LIVE_STATUSES, *FINISHED_STATUSES]
    live = [s for s in statuses if s in LIVE_STATUSES]
    finished = [s for s in statuses if s in FINISHED_STATUSES]
    extra, params = _filters(job_type, resource_category)
    if live:
        total += int(
            conn.execute(
                text(f"SELECT count(*) FROM jobs WHERE status = ANY(:st){extra}"),
                {**params, "st": live},
            ).scalar_one()
        )
    if finished:
        total += int(
            conn.execute(
                text(
                    "SELECT coalesce(sum(n), 0) FROM job_count_totals "
                    f"WHERE status = ANY(:st){extra}"
                ),
                {**params, "st": finished},
            ).scalar_one()
        )
    return total


def _filters(job_type: str | None, resource_category: str | None) -> tuple[str, dict[str, Any]]:
    sql, params = "", {}
    if job_type is not None:
        sql += " AND type = :t"
        params["t"] = job_type
    if resource_category is not None:
        sql += " AND resource_category = :c"
        params["c"] = resource_category
    return sql, params


def fold(conn: Conn) -> int:
    """Move the count deltas into ``job_counts`` (one statement); how many deltas moved."""
    return int(conn.execute(text("SELECT mediaq_fold_job_counts()")).scalar_one())
