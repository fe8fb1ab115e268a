"""The one owner of job transitions: every statement that changes a job's status, its
reservation (``assigned_host``/``assigned_gpu``) or its attempt lives here.

Callers (API, scheduler, rescue, host registry, pipelines, the worker) say what happened;
this module writes it. Each statement is guarded by the sources of its ``Event`` in
``mediaq.jobstates.EVENTS`` (``WHERE status IN (...)``), so the declared table is what the
database enforces; the decisions (retry or fail, backoff, what a pipeline does next) come
from the pure functions there.

Fencing: ``claim`` moves ``queued -> running`` and bumps ``attempt``; that number is the
attempt's token. Every later write of the attempt (``complete``, ``fail``, ``refuse``, and the
progress/log/heartbeat writes of ``mediaq.jobstore``) carries it in its WHERE clause, so a
duplicate delivery, a paused zombie worker or a stale attempt changes nothing.

Everything runs in the caller's connection or session and transaction. Statements that act
on many jobs are set-based (one ``UPDATE ... FROM unnest(...)``), never one per job.

Adding a transition: add an ``Event`` and its ``EventRule`` in ``mediaq.jobstates``, then
one function here whose guard is ``_in(Event.X)``. ``tests/unit/test_transition_owner.py``
fails if a statement writing ``jobs.status`` appears in any other module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Float, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import bindparam

from mediaq.backoff import REFUSALS_TO_CAP, refusal_delay_s
from mediaq.jobstates import (
    Event,
    FailureCause,
    FailureDecision,
    PipelineNext,
    decide_failure,
    decide_pipeline,
    failure_log_line,
    sources,
)
from mediaq.pauses import NOT_PAUSED_SQL
from mediaq.queues import broker_level_sql

Conn = Connection | Session


def _in(event: Event) -> str:
    """The SQL list of the statuses ``event`` may start from, e.g. ``('queued')``."""
    return "(" + ", ".join(f"'{s}'" for s in sources(event)) + ")"


def _clean(value: str) -> str:
    # PostgreSQL text cannot hold NUL; ffmpeg output occasionally does.
    return value.replace("\x00", "")


# ---- admission (scheduler) -------------------------------------------------------------------


class PlacementLike(Protocol):
    @property
    def job_id(self) -> int: ...
    @property
    def gpu_uuid(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...


@dataclass(frozen=True)
class Admitted:
    """A job that is now queued and must be published (after the commit)."""

    job_id: int
    attempt: int
    gpu_uuid: str | None
    priority: int = 5


_ADMIT = text(
    f"""
    UPDATE jobs AS j
       SET status = 'queued', queued_at = now(), updated_at = now(),
           assigned_gpu = p.gpu, assigned_host = p.host,
           waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
      FROM unnest(CAST(:ids AS int[]), CAST(:gpus AS text[]), CAST(:hosts AS text[]))
           AS p(id, gpu, host)
     -- the ids by primary key too: a join alone is planned as a scan of every pending row
     WHERE j.id = p.id AND j.id = ANY(CAST(:ids AS int[])) AND j.status IN {_in(Event.ADMIT)}
    RETURNING j.id, j.attempt, j.assigned_gpu, j.priority
    """
)


def admit(conn: Conn, placements: Sequence[PlacementLike]) -> list[Admitted]:
    """Move placed jobs to queued with their reservation, if they are still pending.

    The status guard makes admission and reservation one atomic step: a job cancelled
    meanwhile, or admitted by another scheduler, is simply not returned. The result keeps
    the order of ``placements``.
    """
    if not placements:
        return []
    rows = conn.execute(
        _ADMIT,
        {
            "ids": [p.job_id for p in placements],
            "gpus": [p.gpu_uuid for p in placements],
            "hosts": [p.host for p in placements],
        },
    ).all()
    order = {p.job_id: i for i, p in enumerate(placements)}
    admitted = [Admitted(r.id, r.attempt, r.assigned_gpu, r.priority) for r in rows]
    admitted.sort(key=lambda a: order[a.job_id])
    return admitted


_CPU_ELIGIBLE = f"""status = 'pending' AND resource_category = 'cpu' AND NOT held
           AND (not_before IS NULL OR not_before <= now()) AND {NOT_PAUSED_SQL}"""
_ADMIT_CPU_HEAD = text(
    f"""
    WITH live AS (
        SELECT count(*) AS n, count(*) FILTER (WHERE status = 'running') AS running,
               max({broker_level_sql("priority")}) FILTER (WHERE status = 'queued') AS worst
          FROM jobs WHERE status IN ('queued', 'running') AND resource_category = 'cpu'),
    -- once per statement: a head row sums the levels at or above its own (at most ten rows)
    waiting AS MATERIALIZED (
        SELECT {broker_level_sql("priority")} AS level, count(*) AS n
          FROM jobs WHERE status = 'queued' AND resource_category = 'cpu' GROUP BY 1),
    head AS (
        SELECT id, priority, created_at FROM jobs
         WHERE {_CPU_ELIGIBLE}
         ORDER BY priority DESC, created_at, id
         LIMIT greatest(0, :room - (SELECT running FROM live))
         FOR UPDATE SKIP LOCKED),
    pick AS (
        SELECT head.id FROM (
            SELECT id, {broker_level_sql("priority")} AS level,
                   row_number() OVER (ORDER BY priority DESC, created_at, id) AS rn
              FROM head) AS head, live
         WHERE head.rn <= :room - live.n
            OR (:overtake AND head.rn + live.running + coalesce(
                   (SELECT sum(w.n) FROM waiting w WHERE w.level <= head.level), 0) <= :room)),
    admitted AS (
        UPDATE jobs AS j
           SET status = 'queued', queued_at = now(), updated_at = now(),
               assigned_gpu = NULL, assigned_host = NULL,
               waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
         -- by primary key, not a join the planner may turn into a scan of every pending row
         WHERE j.id = ANY(ARRAY(SELECT id FROM pick)) AND j.status IN {_in(Event.ADMIT)}
        RETURNING j.id, j.attempt, j.priority, j.created_at),
    next AS (
        SELECT priority FROM jobs
         WHERE {_CPU_ELIGIBLE} AND id NOT IN (SELECT id FROM pick)
         ORDER BY priority DESC, created_at, id LIMIT 1)
    SELECT id, attempt, priority, created_at, false AS overtakes FROM admitted
    UNION ALL
    SELECT NULL, NULL, NULL, NULL,
           {broker_level_sql("next.priority")} < greatest(
               (SELECT worst FROM live),
               (SELECT max({broker_level_sql("priority")}) FROM admitted))
      FROM next
    """
)


@dataclass(frozen=True)
class HeadAdmission:
    admitted: list[Admitted]
    # The first CPU job left pending is more urgent than a job waiting in the broker: it must
    # be admitted (and overtake there) before a worker takes that one.
    overtake_waiting: bool


def admit_cpu_head(conn: Conn, room: int, overtake: int = 0) -> list[Admitted]:
    """Admit the head of the CPU pending queue, in one statement: in exact order while fewer
    than ``room`` CPU jobs are queued or running (the rule of
    ``scheduler.ordering.plan_slots``). With ``overtake`` (a look-ahead), a head job is also
    admitted while fewer than ``room`` jobs are running or waiting in the broker at its
    broker level or a more urgent one: messages of lower levels, which it overtakes there,
    do not count against it, so a later, higher job never waits behind a lower one for a
    pass (``mediaq.queues.broker_level``). The broker then holds at most ``room`` messages
    at or above each level.
    """
    return admit_cpu_head_checked(conn, room, overtake).admitted


def admit_cpu_head_checked(conn: Conn, room: int, overtake: int = 0) -> HeadAdmission:
    """``admit_cpu_head``, also saying whether a job it left pending should overtake one in
    the broker (the scheduler then answers the next freed slot at once)."""
    if room <= 0:
        return HeadAdmission([], False)
    rows = conn.execute(_ADMIT_CPU_HEAD, {"room": room, "overtake": overtake > 0}).all()
    admitted = sorted(
        (r for r in rows if r.id is not None), key=lambda r: (-r.priority, r.created_at, r.id)
    )
    return HeadAdmission(
        [Admitted(r.id, r.attempt, None, r.priority) for r in admitted],
        any(r.id is None and r.overtakes for r in rows),
    )


_STALE_CLAIMS = text(
    """
    UPDATE jobs SET queued_at = now(),
           log = right(coalesce(log, '') || 'not claimed within '
                       || CAST(:t AS int) || ' s; published again' || chr(10), :cap)
     WHERE status = 'queued' AND queued_at < now() - make_interval(secs => :t)
    RETURNING id, attempt, assigned_gpu, priority
    """
)


def republish_unclaimed(conn: Conn, claim_timeout_s: float, cap: int) -> list[Admitted]:
    """Queued jobs no delivery claimed within the timeout: publish them again (the broker
    may have lost the message). Their reservation and attempt stay as they are."""
    rows = conn.execute(_STALE_CLAIMS, {"t": claim_timeout_s, "cap": cap}).all()
    return [Admitted(r.id, r.attempt, r.assigned_gpu, r.priority) for r in rows]


_WITHDRAW_FROM_LOST = text(
    f"""
    UPDATE jobs j SET status = 'pending', assigned_gpu = NULL, assigned_host = NULL,
           queued_at = NULL, updated_at = now(),
           log = right(coalesce(j.log, '') || 'GPU ' || j.assigned_gpu
                       || ' lost or its host silent; placed again' || chr(10), :cap)
     WHERE j.status IN {_in(Event.WITHDRAW)} AND j.assigned_gpu IS NOT NULL
       AND NOT EXISTS (
           SELECT 1 FROM gpus g JOIN worker_hosts h ON h.name = g.host_name
            WHERE g.uuid = j.assigned_gpu AND g.healthy
              AND h.last_seen > now() - make_interval(secs => :t))
    RETURNING j.id
    """
)


def withdraw_from_lost_gpus(conn: Conn, host_timeout_s: float, cap: int) -> list[int]:
    """Queued GPU jobs whose GPU is unhealthy or whose host went silent go back to pending
    (never started, so not a failure)."""
    rows = conn.execute(_WITHDRAW_FROM_LOST, {"t": host_timeout_s, "cap": cap}).all()
    return [r.id for r in rows]


# ---- one attempt (worker) --------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A job this worker now owns, under fencing token ``attempt``."""

    job_id: int
    attempt: int
    type: str
    params: dict[str, Any]
    resource_category: str
    vram_required: int
    assigned_host: str | None
    assigned_gpu: str | None
    failures: int
    max_attempts: int
    pipeline_id: int | None


_CLAIM_SQL = f"""
    UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = now(),
           heartbeat_at = now(), updated_at = now(), progress = 0,
           assigned_host = coalesce(assigned_host, :host),
           waiting_code = NULL, waiting_reason = NULL, queue_position = NULL
     WHERE id = :id AND status IN {_in(Event.CLAIM)} AND attempt = :expected
       AND assigned_gpu IS NOT DISTINCT FROM :gpu
    RETURNING id, attempt, type, params, resource_category, vram_required,
              assigned_host, assigned_gpu, failures, max_attempts, pipeline_id
    """
_CLAIM = text(_CLAIM_SQL)


def _claim_of(row: Any) -> Claim:
    return Claim(
        job_id=row.id,
        attempt=row.attempt,
        type=row.type,
        params=dict(row.params or {}),
        resource_category=row.resource_category,
        vram_required=row.vram_required,
        assigned_host=row.assigned_host,
        assigned_gpu=row.assigned_gpu,
        failures=row.failures,
        max_attempts=row.max_attempts,
        pipeline_id=row.pipeline_id,
    )


def claim(
    conn: Conn, job_id: int, expected_attempt: int, host: str, gpu_uuid: str | None
) -> Claim | None:
    """Take a queued job for this delivery, or None when there is nothing to claim.

    ``expected_attempt`` is the attempt number the job had when it was admitted: a message
    from an earlier admission (the job since went back to pending and was placed again) or
    a duplicate of an already claimed one finds no row and is dropped.
    """
    row = conn.execute(
        _CLAIM, {"id": job_id, "expected": expected_attempt, "host": host, "gpu": gpu_uuid}
    ).one_or_none()
    return None if row is None else _claim_of(row)


_OWNED = "id = :id AND attempt = :attempt AND status = 'running'"

_COMPLETE_SQL = f"""
    UPDATE jobs SET status = 'completed', progress = 100, completed_at = now(),
           updated_at = now(), result = :result,
           log = CASE WHEN :line = '' THEN log ELSE right(coalesce(log, '') || :line, :cap) END
     WHERE id = :done_id AND attempt = :done_attempt AND status IN {_in(Event.COMPLETE)}
    RETURNING pipeline_id
    """
_COMPLETE = text(_COMPLETE_SQL).bindparams(bindparam("result", type_=JSONB))


def complete(
    conn: Conn,
    job_id: int,
    attempt: int,
    result: dict[str, Any] | None,
    cap: int,
    log_line: str = "",
) -> bool:
    """Record success under the fencing token; resolves the job's pipeline."""
    row = conn.execute(
        _COMPLETE,
        {
            "done_id": job_id,
            "done_attempt": attempt,
            "result": result,
            "line": _clean(log_line),
            "cap": cap,
        },
    ).one_or_none()
    if row is None:
        return False
    if row.pipeline_id is not None:
        resolve_pipeline(conn, row.pipeline_id)
    return True


# ---- the worker's hot path: psycopg directly, a success riding with the next claim ----------


def _pg(sql: str) -> str:
    """A statement of this module in psycopg's placeholder style (``%(name)s``), for the
    worker's hot path, which runs on the driver connection without SQLAlchemy."""
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql.replace("%", "%%"))


@dataclass(frozen=True)
class Completion:
    """The success of an attempt of a job outside any pipeline, not written yet: it is
    written with the worker's next claim, or alone when no claim comes soon enough."""

    job_id: int
    attempt: int
    result: dict[str, Any] | None

    def params(self, cap: int) -> dict[str, Any]:
        result = None if self.result is None else Jsonb(self.result)
        return {
            "done_id": self.job_id,
            "done_attempt": self.attempt,
            "result": result,
            "line": "",
            "cap": cap,
        }


_COMPLETE_PG = _pg(_COMPLETE_SQL)
# One statement, one commit: the previous attempt's success (fenced by its attempt) and this
# delivery's claim. ``done`` says whether the success was still the job's to record.
_COMPLETE_AND_CLAIM_PG = _pg(
    f"""
    WITH done AS ({_COMPLETE_SQL}), claimed AS ({_CLAIM_SQL})
    SELECT (SELECT count(*) FROM done) AS done, claimed.*
      FROM (VALUES (1)) AS one LEFT JOIN claimed ON true
    """
)
_CLAIM_PG = _pg(_CLAIM_SQL)


def complete_plain(conn: psycopg.Connection[Any], done: Completion, cap: int) -> bool:
    """Write a held success alone (on an autocommit driver connection); False when its
    attempt no longer owns the job."""
    with conn.cursor() as cur:
        cur.execute(_COMPLETE_PG, done.params(cap))
        return cur.fetchone() is not None


def claim_after(
    conn: psycopg.Connection[Any],
    done: Completion | None,
    job_id: int,
    expected_attempt: int,
    host: str,
    gpu_uuid: str | None,
    cap: int,
) -> tuple[Claim | None, bool | None]:
    """``claim`` on an autocommit driver connection, writing ``done`` (a held success of the
    previous attempt this worker ran) in the same statement. Returns the claim (None: nothing
    to claim) and whether ``done`` was recorded (None when there was none)."""
    params = {"id": job_id, "expected": expected_attempt, "host": host, "gpu": gpu_uuid}
    row: Any
    with conn.cursor(row_factory=namedtuple_row) as cur:
        if done is None:
            cur.execute(_CLAIM_PG, params)
            row = cur.fetchone()
            return (None if row is None else _claim_of(row)), None
        cur.execute(_COMPLETE_AND_CLAIM_PG, params | done.params(cap))
        row = cur.fetchone()
    return (None if row.id is None else _claim_of(row)), bool(row.done)


_ERROR_CAUSES = frozenset({FailureCause.ERROR, FailureCause.PERMANENT})


@dataclass(frozen=True)
class FailedAttempt:
    """A running attempt that ended in failure, with what the decision needs."""

    job_id: int
    attempt: int
    failures: int  # before this attempt
    max_attempts: int
    cause: FailureCause
    detail: str  # what happened: the handler's error, or how the attempt was lost

    @property
    def last_error(self) -> str:
        return self.detail if self.cause in _ERROR_CAUSES else self.cause.value

    @property
    def log_line(self) -> str:
        said = f"{self.cause.value}: {self.detail}" if self.cause in _ERROR_CAUSES else self.detail
        return f"[attempt {self.attempt}] {said}\n"


_FAIL = text(
    f"""
    UPDATE jobs AS j
       SET status = f.status, failures = f.failures,
           not_before = CASE WHEN f.status = 'pending'
                             THEN now() + make_interval(secs => f.delay) END,
           completed_at = CASE WHEN f.status = 'failed' THEN now() END,
           last_error = f.error, updated_at = now(),
           assigned_host = NULL, assigned_gpu = NULL, heartbeat_at = NULL,
           log = right(coalesce(j.log, '') || f.line, :cap)
      FROM unnest(CAST(:ids AS int[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
                  CAST(:failures AS int[]), CAST(:delays AS float8[]), CAST(:errors AS text[]),
                  CAST(:lines AS text[]))
           AS f(id, attempt, status, failures, delay, error, line)
     WHERE j.id = f.id AND j.id = ANY(CAST(:ids AS int[])) AND j.attempt = f.attempt
       AND j.status IN {_in(Event.FAIL)}
    RETURNING j.id, j.status, j.pipeline_id
    """
)


def fail_attempts(
    conn: Conn, attempts: Sequence[FailedAttempt], cap: int
) -> dict[int, FailureDecision]:
    """Record failed attempts, whatever ended them: each is retried with backoff or failed
    for good by ``decide_failure``, frees its reservation and, when failed, resolves its
    pipeline. Returns the decision of every attempt that was still the job's running one
    (a fenced-out attempt is left out)."""
    if not attempts:
        return {}
    decisions = [decide_failure(a.failures, a.max_attempts, a.cause) for a in attempts]
    lines = [
        _clean(a.log_line + failure_log_line(a.attempt, d, a.max_attempts))
        for a, d in zip(attempts, decisions, strict=True)
    ]
    rows = conn.execute(
        _FAIL,
        {
            "ids": [a.job_id for a in attempts],
            "attempts": [a.attempt for a in attempts],
            "statuses": [d.status.value for d in decisions],
            "failures": [d.failures for d in decisions],
            "delays": [d.delay_s for d in decisions],
            "errors": [_clean(a.last_error)[:2000] for a in attempts],
            "lines": lines,
            "cap": cap,
        },
    ).all()
    by_id = {a.job_id: d for a, d in zip(attempts, decisions, strict=True)}
    for pipeline_id in sorted(
        {r.pipeline_id for r in rows if r.pipeline_id is not None and r.status == "failed"}
    ):
        resolve_pipeline(conn, pipeline_id)
    return {r.id: by_id[r.id] for r in rows}


def fail(
    conn: Conn, claimed: Claim, error: str, permanent: bool, cap: int
) -> FailureDecision | None:
    """Record the handler's failure of a claimed attempt; None when fenced out."""
    cause = FailureCause.PERMANENT if permanent else FailureCause.ERROR
    got = fail_attempts(
        conn,
        [
            FailedAttempt(
                claimed.job_id,
                claimed.attempt,
                claimed.failures,
                claimed.max_attempts,
                cause,
                error,
            )
        ],
        cap,
    )
    return got.get(claimed.job_id)


_REFUSE = text(
    f"""
    UPDATE jobs SET status = 'pending', assigned_host = NULL, assigned_gpu = NULL,
           heartbeat_at = NULL, waiting_code = :code, waiting_reason = :reason,
           refusals = refusals + 1,
           not_before = now() + make_interval(
               secs => (:delays)[least(refusals + 1, cardinality(:delays))]),
           updated_at = now(), log = right(coalesce(log, '') || :line, :cap)
     WHERE id = :id AND attempt = :attempt AND status IN {_in(Event.REFUSE)}
    """
).bindparams(bindparam("delays", type_=ARRAY(Float)))
# the waits after the 1st, 2nd, ... refusal; from the last on, the cap
_REFUSAL_DELAYS = [refusal_delay_s(n) for n in range(1, REFUSALS_TO_CAP + 1)]


def refuse(conn: Conn, job_id: int, attempt: int, code: str, reason: str, cap: int) -> bool:
    """Give the job back to the scheduler without counting a failure (refused preflight).
    It may be admitted again after ``refusal_delay_s`` of its refusals so far."""
    result = conn.execute(
        _REFUSE,
        {
            "id": job_id,
            "attempt": attempt,
            "code": code,
            "reason": reason,
            "delays": _REFUSAL_DELAYS,
            "line": f"[attempt {attempt}] {reason}\n",
            "cap": cap,
        },
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# ---- lost workers and GPUs (scheduler rescue, host daemon) -----------------------------------

_SILENT = text(
    """
    SELECT id, attempt, failures, max_attempts, assigned_host,
           EXTRACT(EPOCH FROM now() - heartbeat_at) AS silent_s
      FROM jobs
     WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => :t)
    """
)


def fail_silent_attempts(
    conn: Conn, heartbeat_timeout_s: float, cap: int
) -> dict[int, FailureDecision]:
    """Running attempts whose heartbeat stopped (worker killed, host lost) fail with cause
    HEARTBEAT_LOST. A job that really runs for hours keeps heartbeating and is never touched."""
    rows = conn.execute(_SILENT, {"t": heartbeat_timeout_s}).all()
    return fail_attempts(
        conn,
        [
            FailedAttempt(
                r.id,
                r.attempt,
                r.failures,
                r.max_attempts,
                FailureCause.HEARTBEAT_LOST,
                f"heartbeat lost on host {r.assigned_host} for {float(r.silent_s):.0f} s",
            )
            for r in rows
        ],
        cap,
    )


_ON_GPU = text(
    """
    SELECT id, attempt, failures, max_attempts, status FROM jobs
     WHERE status IN ('queued', 'running') AND assigned_gpu = :uuid
    """
)

_WITHDRAW_FROM_GPU = text(
    f"""
    UPDATE jobs SET status = 'pending', assigned_gpu = NULL, assigned_host = NULL,
           queued_at = NULL, updated_at = now(),
           log = right(coalesce(log, '') || :line, :cap)
     WHERE id = ANY(:ids) AND status IN {_in(Event.WITHDRAW)} AND assigned_gpu = :uuid
    RETURNING id
    """
)


def release_gpu(conn: Conn, host: str, uuid: str, cap: int) -> list[int]:
    """The jobs of a lost GPU go back to be placed elsewhere; returns their ids.

    A queued job never started: it is withdrawn (not a failure). A running one was cut off
    (its worker was killed with the GPU): a failed attempt with cause GPU_LOST, retried with
    the same backoff as any failure, so a job that keeps taking GPUs down does not go round
    forever. Fenced like every outcome: only rows still on this GPU.
    """
    rows = conn.execute(_ON_GPU, {"uuid": uuid}).all()
    queued = [r.id for r in rows if r.status == "queued"]
    released: list[int] = []
    if queued:
        line = f"GPU {uuid} on host {host} lost; placed again\n"
        released += [
            r.id
            for r in conn.execute(
                _WITHDRAW_FROM_GPU, {"ids": queued, "uuid": uuid, "line": line, "cap": cap}
            ).all()
        ]
    failed = fail_attempts(
        conn,
        [
            FailedAttempt(
                r.id,
                r.attempt,
                r.failures,
                r.max_attempts,
                FailureCause.GPU_LOST,
                f"GPU {uuid} on host {host} "
                + ("lost; placed again" if r.failures + 1 < r.max_attempts else "lost"),
            )
            for r in rows
            if r.status == "running"
        ],
        cap,
    )
    return released + list(failed)


# ---- operator actions (API, CLI) -------------------------------------------------------------

_BY_BATCH: dict[Event, str] = {
    Event.CANCEL: f"""
        UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(),
               waiting_code = NULL, waiting_reason = NULL, queue_position = NULL,
               held = false, log = coalesce(log, '') || 'cancelled by request' || chr(10)
          FROM batch WHERE jobs.id = batch.id AND jobs.status IN {_in(Event.CANCEL)}
        RETURNING jobs.id, jobs.pipeline_id
        """,
    Event.RETRY: f"""
        UPDATE jobs SET status = 'pending', failures = 0, refusals = 0, not_before = NULL,
               progress = 0, completed_at = NULL, started_at = NULL, updated_at = now(),
               assigned_host = NULL, assigned_gpu = NULL, heartbeat_at = NULL,
               result = NULL,
               held = coalesce(jobs.depends_on <> '{{}}' AND EXISTS (
                   SELECT 1 FROM jobs d WHERE d.id = ANY(jobs.depends_on)
                      AND d.status <> 'completed'), false),
               log = coalesce(log, '') || 'retried by request' || chr(10)
          FROM batch WHERE jobs.id = batch.id AND jobs.status IN {_in(Event.RETRY)}
        RETURNING jobs.id, NULL::int AS pipeline_id
        """,
}


def by_batch(event: Event) -> str:
    """The operator's ``event`` (CANCEL or RETRY) as one statement over the ids of a CTE named
    ``batch``, for set-based callers (bulk actions) to put after their ``WITH batch AS (...)``.
    It returns ``jobs.id, jobs.pipeline_id`` of the rows it changed; the caller resolves
    those pipelines with ``resolve_pipeline`` in the same transaction."""
    return _BY_BATCH[event]


def _one(event: Event) -> Any:
    return text(f"WITH batch AS (SELECT CAST(:id AS int) AS id) {_BY_BATCH[event]}")


_CANCEL = _one(Event.CANCEL)
_RETRY = _one(Event.RETRY)


def cancel(conn: Conn, job_id: int) -> bool:
    """Cancel a pending, queued or running job (its reservation goes with its live status;
    a running attempt's worker notices within ``cancel_poll_s``). False when the job is not
    in a cancellable state."""
    row = conn.execute(_CANCEL, {"id": job_id}).one_or_none()
    if row is None:
        return False
    if row.pipeline_id is not None:
        resolve_pipeline(conn, row.pipeline_id)
    return True


def retry(conn: Conn, job_id: int) -> bool:
    """Put a failed or cancelled job back to pending with a fresh retry budget."""
    return conn.execute(_RETRY, {"id": job_id}).one_or_none() is not None


# ---- pipelines -------------------------------------------------------------------------------

_CANCEL_REST = text(
    f"""
    UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(),
           held = false, waiting_code = NULL, waiting_reason = NULL, queue_position = NULL,
           log = coalesce(log, '') || :line
     WHERE pipeline_id = :p AND status IN {_in(Event.CANCEL)}
    """
)

_RELEASE_READY = text(
    """
    UPDATE jobs j SET held = false, waiting_code = NULL, waiting_reason = NULL
     WHERE j.pipeline_id = :p AND j.status = 'pending' AND j.held
       AND NOT EXISTS (SELECT 1 FROM jobs d
                        WHERE d.id = ANY(j.depends_on) AND d.status <> 'completed')
    """
)


def resolve_pipeline(conn: Conn, pipeline_id: int) -> None:
    """After a step settled: release steps whose dependencies completed, or cancel the rest
    after a step failed for good or was cancelled (``jobstates.decide_pipeline``)."""
    steps = conn.execute(
        text("SELECT id, status FROM jobs WHERE pipeline_id = :p ORDER BY id"), {"p": pipeline_id}
    ).all()
    action, final = decide_pipeline(s.status for s in steps)
    if action is PipelineNext.CANCEL_REST:
        broken = next(s for s in steps if s.status in ("failed", "cancelled"))
        conn.execute(
            _CANCEL_REST,
            {
                "p": pipeline_id,
                "line": f"cancelled: pipeline step job #{broken.id} {broken.status}\n",
            },
        )
        conn.execute(
            text(
                "UPDATE pipelines SET status = :s, completed_at = now() "
                "WHERE id = :p AND completed_at IS NULL"
            ),
            {"p": pipeline_id, "s": final},
        )
        return
    conn.execute(_RELEASE_READY, {"p": pipeline_id})
    conn.execute(
        text(
            """
            UPDATE pipelines SET status = 'completed', completed_at = now()
             WHERE id = :p AND completed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE pipeline_id = :p
                                AND status <> 'completed')
            """
        ),
        {"p": pipeline_id},
    )
