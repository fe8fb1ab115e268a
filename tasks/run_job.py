"""The one Celery task: claim the job row, run its handler, record the outcome.

Thin on purpose: everything a handler needs is in ``JobContext``; every write is fenced by
the attempt number the claim produced.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from celery import Celery, Task
from celery.signals import worker_process_shutdown
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import InterfaceError, OperationalError

from mediaq import transitions
from mediaq.backoff import retry_delay_s
from mediaq.celeryapp import RUN_JOB
from mediaq.db import engine_for
from mediaq.errors import AttemptSuperseded, JobCancelled, PermanentError, PreflightFailed
from mediaq.logging_setup import install_celery_logging, job_log_context
from mediaq.metrics import DUPLICATES_DROPPED, count_event
from mediaq.proctree import attempt_name, name_thread, thread_name
from mediaq.settings import Settings, normalize_database_url
from mediaq.transitions import Claim, Completion
from tasks.completion_hold import CompletionHold
from tasks.context import JobContext
from tasks.monitor import AttemptMonitor
from tasks.registry import handler_for

log = logging.getLogger(__name__)

Preflight = Callable[[Claim], None]
T = TypeVar("T")
# How long a pool process holds a success for its next claim (tasks/completion_hold): a busy
# worker claims again within about a millisecond.
COMPLETION_HOLD_S = 0.01


def completion_hold_s(settings: Settings) -> float:
    """Only the CPU worker holds successes, and only with a look-ahead: its next message is
    then already in the broker. A GPU worker's next job, or a CPU worker's without
    look-ahead, is admitted only once the success is written, so holding it would only
    delay that."""
    return COMPLETION_HOLD_S if settings.lookahead > 0 and not settings.worker_gpu else 0.0


@dataclass
class Outcome:
    status: str  # completed | retrying | failed | cancelled | dropped | preflight_refused
    detail: str = ""


class WorkerRuntime:
    """Per-process state of a worker: settings, engine (made after fork), monitor."""

    def __init__(
        self, settings: Settings, preflight: Preflight | None = None, hold_s: float = 0.0
    ) -> None:
        """``hold_s`` > 0: the success of a job outside any pipeline is held up to that long
        to ride with the next claim (``tasks.completion_hold``); 0 writes it at once."""
        self.settings = settings
        self.preflight = preflight
        self._monitor: AttemptMonitor | None = None
        self._claims: Engine | None = None
        self._completions: Engine | None = None
        self.held = CompletionHold(hold_s, self._write_held) if hold_s > 0 else None
        self._own_name: tuple[int, str] | None = None  # (pid, name)

    @property
    def engine(self) -> Engine:
        return engine_for(self.settings.database_url)

    @property
    def claims(self) -> Engine:
        """A connection of its own for the claim: autocommit (a single-statement write is its
        own transaction, one round trip instead of BEGIN, statement, COMMIT), durable. The
        claim's new attempt number is the fencing token: were it lost in a database crash,
        a second delivery could claim the same number while the first attempt still runs."""
        if self._claims is None:
            self._claims = self._single_statement_engine(durable=True)
        return self._claims

    @property
    def completions(self) -> Engine:
        """Autocommit for a plain completion, with ``synchronous_commit`` off, so it does not
        wait for its WAL flush (README, "Choices": what a database crash can cost)."""
        if self._completions is None:
            self._completions = self._single_statement_engine(durable=False)
        return self._completions

    def close(self) -> None:
        """Write a held success, then close the claim and completion connections (a test or
        a process shutting down)."""
        if self.held is not None:
            self.held.flush()
        for engine in (self._claims, self._completions):
            if engine is not None:
                engine.dispose()
        self._claims = self._completions = None

    def _single_statement_engine(self, durable: bool) -> Engine:
        options = {} if durable else {"options": "-c synchronous_commit=off"}
        return create_engine(
            normalize_database_url(self.settings.database_url),
            pool_size=1,
            max_overflow=2,
            pool_recycle=1800,
            isolation_level="AUTOCOMMIT",
            connect_args=options,
        )

    def _write_held(self, done: Completion) -> None:
        cap = self.settings.log_max_chars

        def write() -> bool:
            with _driver(self.completions) as conn:
                return transitions.complete_plain(conn, done, cap)

        if not _write_outcome(lambda: False, done.job_id, write):
            _success_dropped(done)

    def claim(self, job_id: int, expected_attempt: int) -> Claim | None:
        """Claim for this delivery, writing the held success of the previous job with it."""
        done = self.held.take() if self.held is not None else None
        settings = self.settings

        def write(conn: psycopg.Connection[Any]) -> tuple[Claim | None, bool | None]:
            return transitions.claim_after(
                conn,
                done,
                job_id,
                expected_attempt,
                settings.host_name,
                self.gpu_uuid,
                settings.log_max_chars,
            )

        try:
            claim, recorded = _with_reconnect(self, write)
        except BaseException:
            if done is not None and self.held is not None:
                self.held.give_back(done)
            raise
        if done is not None and not recorded:
            _success_dropped(done)
        return claim

    @property
    def monitor(self) -> AttemptMonitor:
        if self._monitor is None:
            self._monitor = AttemptMonitor(
                self.settings.cancel_poll_s,
                self.settings.heartbeat_interval_s,
                self.settings.heartbeat_timeout_s,
            )
        return self._monitor

    @property
    def own_name(self) -> str:
        """The pool process's own name, put back after each attempt; read once per process
        (a read of ``/proc`` per job costs more than the rename itself)."""
        pid = os.getpid()
        if self._own_name is None or self._own_name[0] != pid:
            self._own_name = (pid, thread_name())
        return self._own_name[1]

    @property
    def gpu_uuid(self) -> str | None:
        return self.settings.worker_gpu or None


def execute_job(
    runtime: WorkerRuntime,
    job_id: int,
    expected_attempt: int,
    on_progress: Callable[[int], None] | None = None,
) -> Outcome:
    """Claim and run one job; never raises for the job's own failures."""
    settings = runtime.settings
    claimed_since = time.monotonic()
    claim = runtime.claim(job_id, expected_attempt)
    if claim is None:
        log.info(
            "job %s: nothing to claim for attempt %s; delivery dropped", job_id, expected_attempt
        )
        count_event(settings, DUPLICATES_DROPPED)
        return Outcome("dropped")
    ctx = JobContext(settings, runtime.engine, claim, settings.host_name, on_progress)
    runtime.monitor.watch(ctx, claimed_since)
    name = runtime.own_name
    name_thread(attempt_name(job_id, claim.attempt))  # ps shows which attempt runs here
    try:
        return _run_claimed(runtime, ctx)
    finally:
        name_thread(name)
        runtime.monitor.unwatch()


def _success_dropped(done: Completion) -> None:
    log.info("job %s: attempt %s no longer owns it; success dropped", done.job_id, done.attempt)


@contextmanager
def _driver(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection's psycopg connection (the hot path skips SQLAlchemy Core); one
    that failed is dropped from the pool."""
    fairy = engine.raw_connection()
    try:
        conn = fairy.driver_connection
        assert isinstance(conn, psycopg.Connection)
        yield conn
    except psycopg.OperationalError:
        fairy.invalidate()
        raise
    finally:
        fairy.close()


def _with_reconnect(runtime: WorkerRuntime, write: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run a single-statement write, once more on a fresh connection if the pooled one
    died (the database restarted since it was last used)."""
    try:
        with _driver(runtime.claims) as conn:
            return write(conn)
    except psycopg.OperationalError as exc:
        if not conn_broken(exc):
            raise
        log.warning("database connection lost; writing again on a fresh one")
    with _driver(runtime.claims) as conn:
        return write(conn)


def conn_broken(exc: psycopg.OperationalError) -> bool:
    """Whether the error left the connection unusable (a restart, a dropped socket), as
    opposed to a statement the database refused."""
    return exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))


def _write_outcome(cancelled: Callable[[], bool], job_id: int, write: Callable[[], T]) -> T:
    """Write an attempt's outcome, retrying while the database is away.

    The attempt keeps heartbeating meanwhile (the monitor still watches it); once it is
    fenced the outcome is given up: the rescue retries the job.
    """
    failures = 0
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError, psycopg.OperationalError) as exc:
            failures += 1
            if cancelled():
                raise
            delay = retry_delay_s(failures, 0.2, 2.0)
            log.warning(
                "job %s: outcome not written (%s); again in %.1f s",
                job_id,
                type(exc).__name__,
                delay,
            )
            time.sleep(delay)


def _run_claimed(runtime: WorkerRuntime, ctx: JobContext) -> Outcome:
    cap = runtime.settings.log_max_chars
    claim = ctx.claim
    try:
        if runtime.preflight is not None and claim.assigned_gpu:
            runtime.preflight(claim)
        handler = handler_for(claim.type)
        result = handler(ctx)
    except PreflightFailed as exc:
        with runtime.engine.begin() as conn:
            transitions.refuse(
                conn, claim.job_id, claim.attempt, "PREFLIGHT_FAILED", exc.reason, cap
            )
        return Outcome("preflight_refused", exc.reason)
    except (JobCancelled, AttemptSuperseded) as exc:
        return Outcome("cancelled", str(exc))
    except PermanentError as exc:
        return _record_failure(runtime, ctx, f"{type(exc).__name__}: {exc}", permanent=True)
    except Exception as exc:  # any other error is transient: retried with backoff
        detail = "".join(traceback.format_exception(exc, limit=-3)).strip()
        return _record_failure(runtime, ctx, detail, permanent=False)
    if runtime.held is not None and claim.pipeline_id is None and not ctx.cancelled:
        runtime.held.hold(Completion(claim.job_id, claim.attempt, _json_result(result)))
        return Outcome("completed")
    # A pipeline step resolves its pipeline in the same transaction as its outcome.
    engine = runtime.engine if claim.pipeline_id is not None else runtime.completions

    def write() -> bool:
        with engine.begin() as conn:
            return transitions.complete(
                conn, claim.job_id, claim.attempt, _json_result(result), cap
            )

    done = _write_outcome(lambda: ctx.cancelled, ctx.job_id, write)
    return Outcome("completed" if done else "cancelled")


def _record_failure(
    runtime: WorkerRuntime, ctx: JobContext, error: str, permanent: bool
) -> Outcome:
    if ctx.cancelled:
        return Outcome("cancelled", error)

    def write() -> transitions.FailureDecision | None:
        with runtime.engine.begin() as conn:
            return transitions.fail(
                conn, ctx.claim, error, permanent, runtime.settings.log_max_chars
            )

    decision = _write_outcome(lambda: ctx.cancelled, ctx.job_id, write)
    if decision is None:
        return Outcome("cancelled", error)
    return Outcome("retrying" if decision.retry else "failed", error)


def _json_result(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if not isinstance(result, dict):
        return {"value": result}
    return result


def register_run_job(app: Celery, settings: Settings, preflight: Preflight | None = None) -> Task:
    """Define the ``mediaq.run_job`` task on ``app``, bound to a per-process runtime."""
    runtime = WorkerRuntime(settings, preflight, hold_s=completion_hold_s(settings))
    install_celery_logging(settings)
    # a pool process that ends normally writes the success it holds first
    worker_process_shutdown.connect(lambda **_: runtime.close(), weak=False)

    @app.task(name=RUN_JOB, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(self: Task, job_id: int, expected_attempt: int) -> str:
        def progress_event(value: int) -> None:
            # Flower folds fields of custom task events into the task it shows (state
            # PROGRESS); of those only ``result`` survives into its pages (ops/flowerconfig).
            self.send_event("task-progress", progress=value, result=f"{value}%")

        with job_log_context(job_id):  # every log line of the job carries its id
            outcome = execute_job(
                runtime, job_id, expected_attempt, progress_event if settings.task_events else None
            )
            level = logging.WARNING if outcome.status in ("failed", "retrying") else logging.INFO
            log.log(level, "job %s: %s %s", job_id, outcome.status, outcome.detail[-500:])
        return outcome.status

    return run_job
