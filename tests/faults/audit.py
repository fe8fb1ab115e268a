"""What every fault test checks afterwards, from an audit the database itself keeps.

``install_audit`` adds (to the test's own database only) an append-only table and a trigger
that records every status change of every job: job, attempt, old and new status, host, and
the database's clock. From it and the final rows, ``check_invariants`` verifies what a user
relies on whatever failed: every job terminal, none completed twice, no reservation left
behind, and no attempt recorded a change after a later attempt had started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from mediaq.db import engine_for

AUDIT_SQL = """
CREATE TABLE job_status_audit (
    seq bigserial PRIMARY KEY,
    job_id int NOT NULL,
    attempt int NOT NULL,
    old_status text,
    new_status text NOT NULL,
    host text,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION job_status_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_status_audit (job_id, attempt, old_status, new_status, host)
    VALUES (NEW.id, NEW.attempt,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.assigned_host);
    RETURN NULL;
END $$;
CREATE TRIGGER job_status_audit AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION job_status_audit_row();
CREATE FUNCTION job_status_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'job_status_audit is append-only'; END $$;
CREATE TRIGGER job_status_audit_append_only BEFORE UPDATE OR DELETE ON job_status_audit
    FOR EACH ROW EXECUTE FUNCTION job_status_audit_append_only();
"""

TERMINAL = ("completed", "failed", "cancelled")


def install_audit(database_url: str) -> None:
    with engine_for(database_url).begin() as conn:
        conn.exec_driver_sql(AUDIT_SQL)


@dataclass
class Verdict:
    jobs: int = 0
    completed: int = 0
    not_terminal: list[tuple[int, str]] = field(default_factory=list)
    completed_twice: list[int] = field(default_factory=list)
    leaked_reservations: list[int] = field(default_factory=list)
    stale_writes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = []
        if self.not_terminal:
            found.append(f"jobs not terminal: {self.not_terminal[:10]}")
        if self.completed_twice:
            found.append(f"jobs completed twice: {self.completed_twice}")
        if self.leaked_reservations:
            found.append(f"reservations held with nothing running: {self.leaked_reservations}")
        if self.stale_writes:
            found.append(f"status changes by a superseded attempt: {self.stale_writes[:5]}")
        return found


def check_invariants(database_url: str, job_ids: Sequence[int] | None = None) -> Verdict:
    """Read the final state and the audit (of ``job_ids``, or of every job); the caller
    asserts ``verdict.problems == []``."""
    verdict = Verdict()
    where = "" if job_ids is None else " AND job_id = ANY(:ids)"
    ids = {"ids": list(job_ids or [])}
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, status FROM jobs" + ("" if job_ids is None else " WHERE id = ANY(:ids)")
            ),
            ids,
        ).all()
        verdict.jobs = len(rows)
        verdict.not_terminal = [(r.id, r.status) for r in rows if r.status not in TERMINAL]
        verdict.completed = sum(1 for r in rows if r.status == "completed")
        verdict.completed_twice = list(
            conn.execute(
                text(
                    "SELECT job_id FROM job_status_audit WHERE new_status = 'completed'"
                    + where
                    + " GROUP BY job_id HAVING count(*) > 1"
                ),
                ids,
            ).scalars()
        )
        # The admission ledger counts every queued or running job against its host's slots
        # and its GPU's memory: one left behind with nothing running it is a leak.
        verdict.leaked_reservations = list(
            conn.execute(
                text(
                    "SELECT id FROM jobs WHERE status IN ('queued', 'running')"
                    + ("" if job_ids is None else " AND id = ANY(:ids)")
                ),
                ids,
            ).scalars()
        )
        # A change recorded with an attempt number lower than one already recorded for the
        # same job would be a zombie's write getting through. (A window over each job's
        # changes in order: linear, where a self-join is quadratic in a job's changes.)
        verdict.stale_writes = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    """
                    SELECT job_id, attempt, new_status, seq FROM (
                        SELECT job_id, attempt, new_status, seq,
                               max(attempt) OVER (PARTITION BY job_id ORDER BY seq ROWS
                                   BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
                          FROM job_status_audit WHERE true"""
                    + where
                    + """
                    ) changes WHERE before > attempt
                    """
                ),
                ids,
            ).all()
        ]
    return verdict
