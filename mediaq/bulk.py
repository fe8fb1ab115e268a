"""Bulk actions over jobs: cancel, retry or delete a list of ids or every job matching a filter.

Set-based and batched: each batch is one statement in its own short transaction that picks
the next ``batch`` matching ids (keyset by id) and changes those still in a state the action
allows, so a million matches never hold one giant lock and no row is read into Python. The
rules are the single-job routes' (``mediaq.jobcontrol``): cancel takes pending, queued and
running jobs (a running job's worker sees it and stops; a queued job's message is dropped at
claim), retry takes failed and cancelled jobs back to pending with a fresh budget, and delete
removes only finished jobs, never a step of a pipeline that is still going.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from mediaq.jobstates import CANCELLABLE, RETRYABLE_BY_USER, TERMINAL, Event, JobStatus
from mediaq.jobtypes import JOB_TYPES
from mediaq.likes import contains_pattern
from mediaq.settings import RESOURCE_CLASSES
from mediaq.transitions import by_batch, resolve_pipeline

BATCH = 5_000
MAX_IDS = 10_000
MAX_TEXT = 200


def _sql_set(statuses: frozenset[JobStatus]) -> str:
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


# A finished pipeline leaves its steps free to go; an unfinished one keeps them.
PIPELINE_DONE_SQL = (
    "(jobs.pipeline_id IS NULL OR NOT EXISTS (SELECT 1 FROM pipelines p "
    "WHERE p.id = jobs.pipeline_id AND p.status IN ('pending', 'running')))"
)

# action -> (statuses it may start from, the statement applied to the batch's rows); the
# status changes are the transitions' own statements (``mediaq.transitions.by_batch``)
ACTIONS: dict[str, tuple[frozenset[JobStatus], str]] = {
    "cancel": (CANCELLABLE, by_batch(Event.CANCEL).replace("{", "{{").replace("}", "}}")),
    "retry": (RETRYABLE_BY_USER, by_batch(Event.RETRY).replace("{", "{{").replace("}", "}}")),
    "delete": (
        TERMINAL,
        f"""
        DELETE FROM jobs USING batch
         WHERE jobs.id = batch.id AND jobs.status IN {{sources}} AND {PIPELINE_DONE_SQL}
        RETURNING jobs.id, NULL::int AS pipeline_id
        """,
    ),
}


class BulkError(ValueError):
    """A bulk request that names something wrong (the API's 400)."""


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: every given field must match. Empty matches every job."""

    status: str | None = None
    type: str | None = None
    resource_category: str | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    text: str | None = None  # a substring of the params, as JSON text (case-insensitive)
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in {s.value for s in JobStatus}:
            raise BulkError(f"status must be one of: {', '.join(s.value for s in JobStatus)}")
        if self.type is not None and self.type not in JOB_TYPES:
            raise BulkError(f"unknown job type {self.type!r}")
        if self.resource_category is not None and self.resource_category not in RESOURCE_CLASSES:
            raise BulkError(f"resourceCategory must be one of: {', '.join(RESOURCE_CLASSES)}")
        if self.text is not None and (len(self.text) > MAX_TEXT or "\x00" in self.text):
            raise BulkError(f"text must be at most {MAX_TEXT} characters")
        if self.ids is not None and len(self.ids) > MAX_IDS:
            raise BulkError(f"at most {MAX_IDS} ids per call; use a filter for more")

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL condition on ``jobs`` and its parameters (pure)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for column, value in (
            ("status", self.status),
            ("type", self.type),
            ("resource_category", self.resource_category),
        ):
            if value is not None:
                clauses.append(f"jobs.{column} = :f_{column}")
                params[f"f_{column}"] = value
        if self.created_before is not None:
            clauses.append("jobs.created_at < :f_before")
            params["f_before"] = self.created_before
        if self.created_after is not None:
            clauses.append("jobs.created_at >= :f_after")
            params["f_after"] = self.created_after
        if self.text:
            clauses.append("jobs.params::text ILIKE :f_text")
            params["f_text"] = contains_pattern(self.text)
        if self.ids is not None:
            clauses.append("jobs.id = ANY(:f_ids)")
            params["f_ids"] = list(self.ids)
        return (" AND ".join(clauses) or "true"), params


@dataclass(frozen=True)
class BulkResult:
    matched: int  # jobs the ids or the filter selected
    changed: int  # of those, the ones the action changed (the others were in another state)


def run_bulk(engine: Engine, action: str, selection: JobFilter, batch: int = BATCH) -> BulkResult:
    """Apply ``action`` to every job ``selection`` matches, ``batch`` ids per transaction."""
    if action not in ACTIONS:
        raise BulkError(f"action must be one of: {', '.join(ACTIONS)}")
    sources, statement = ACTIONS[action]
    where, params = selection.where()
    sql = text(
        f"""
        WITH batch AS (
            SELECT id FROM jobs WHERE {where} AND jobs.id > :after ORDER BY jobs.id LIMIT :n
        ), changed AS ({statement.format(sources=_sql_set(sources))})
        SELECT (SELECT count(*) FROM batch) AS matched, (SELECT max(id) FROM batch) AS last,
               (SELECT count(*) FROM changed) AS changed,
               (SELECT array_agg(DISTINCT pipeline_id) FROM changed
                 WHERE pipeline_id IS NOT NULL) AS pipelines
        """
    )
    matched = changed = 0
    after = 0
    while True:
        with engine.begin() as conn:
            row = conn.execute(sql, {**params, "after": after, "n": batch}).one()
            for pipeline_id in row.pipelines or ():
                resolve_pipeline(conn, pipeline_id)
        matched += int(row.matched)
        changed += int(row.changed)
        if row.matched < batch or row.last is None:
            return BulkResult(matched, changed)
        after = int(row.last)
