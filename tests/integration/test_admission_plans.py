"""The CPU head admission's plan stays linear in the number of jobs it admits.

A fleet of 1,000 slots admits about a thousand jobs per pass; a part of the statement that is
evaluated once per head row must not itself scan the queued jobs (a quadratic pass: 300 ms
instead of 30 for 1,000 jobs, which is what inlining the per-level counts gave).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from mediaq import transitions
from mediaq.db import engine_for
from mediaq.settings import Settings


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


def test_the_per_level_counts_of_queued_jobs_are_computed_once_per_admission(
    settings: Settings,
) -> None:
    with engine_for(settings.database_url).begin() as conn:
        # a fleet's worth of queued jobs, at several broker levels, and a pending head
        conn.execute(
            text(
                "INSERT INTO jobs (type, status, resource_category, priority)"
                " SELECT 'noop', s, 'cpu', (g % 11) - 1 FROM generate_series(1, 600) AS g,"
                " LATERAL (SELECT CASE WHEN g <= 300 THEN 'queued' ELSE 'pending' END) AS x(s)"
            )
        )
        conn.exec_driver_sql("ANALYZE jobs")
        raw = conn.execute(
            text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(transitions._ADMIT_CPU_HEAD)),
            {"room": 400, "overtake": True},
        ).scalar_one()
        doc = raw if isinstance(raw, list) else json.loads(raw)
        nodes = plan_nodes(doc[0]["Plan"])
        conn.rollback()
    queued_scans = [
        n for n in nodes if n.get("Relation Name") == "jobs" and n.get("Actual Loops", 1) > 1
    ]
    # nothing reads the jobs table once per head row
    assert queued_scans == [], [(n["Node Type"], n["Actual Loops"]) for n in queued_scans]
    assert any(n.get("Subplan Name") == "CTE waiting" for n in nodes)
