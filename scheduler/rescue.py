"""Rescue: nothing stays stuck, nothing runs twice at once.

- A queued job no worker claimed within ``claim_timeout_s`` is published again (the broker
  may have lost it: Redis flushed or restarted). A duplicate is harmless: only one delivery
  can claim.
- A running job whose heartbeat stopped for ``heartbeat_timeout_s`` (worker killed, host
  lost) is retried with backoff or failed after its maximum attempts; its reservation is
  freed with it. A job that really runs for hours keeps heartbeating and is never touched.
- A queued GPU job whose host stopped heartbeating, or whose GPU was lost, goes back to
  pending to be placed elsewhere (its attempt was never started, so it is not a failure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, text

from mediaq.backoff import retry_delay_s
from mediaq.pipelines import resolve_pipeline
from mediaq.settings import Settings
from scheduler.dispatch import Admitted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RescueReport:
    republished: list[Admitted]
    retried: list[int]
    failed: list[int]
    withdrawn: list[int]

    @property
    def total(self) -> int:
        return len(self.republished) + len(self.retried) + len(self.failed) + len(self.withdrawn)


def rescue(conn: Connection, settings: Settings) -> RescueReport:
    """One rescue sweep, in the caller's transaction; publish ``republished`` after commit."""
    withdrawn = _withdraw_from_lost_gpus(conn, settings)
    republished = _stale_claims(conn, settings)
    retried, failed = _stale_heartbeats(conn, settings)
    return RescueReport(republished, retried, failed, withdrawn)


def _stale_claims(conn: Connection, settings: Settings) -> list[Admitted]:
    rows = conn.execute(
        text(
            """
            UPDATE jobs SET queued_at = now(),
                   log = right(coalesce(log, '') || 'not claimed within '
                               || CAST(:t AS int) || ' s; published again' || chr(10), :cap)
             WHERE status = 'queued' AND queued_at < now() - make_interval(secs => :t)
            RETURNING id, attempt, assigned_gpu
            """
        ),
        {"t": settings.claim_timeout_s, "cap": settings.log_max_chars},
    ).all()
    return [Admitted(r.id, r.attempt, r.assigned_gpu) for r in rows]


def _stale_heartbeats(conn: Connection, settings: Settings) -> tuple[list[int], list[int]]:
    rows = conn.execute(
        text(
            """
            SELECT id, attempt, failures, max_attempts, assigned_host, pipeline_id,
                   EXTRACT(EPOCH FROM now() - heartbeat_at) AS silent_s
              FROM jobs
             WHERE status = 'running'
               AND heartbeat_at < now() - make_interval(secs => :t)
             FOR UPDATE SKIP LOCKED
            """
        ),
        {"t": settings.heartbeat_timeout_s},
    ).all()
    retried: list[int] = []
    failed: list[int] = []
    for r in rows:
        failures = r.failures + 1
        retry = failures < r.max_attempts
        delay = retry_delay_s(failures) if retry else 0.0
        line = (
            f"[attempt {r.attempt}] heartbeat lost on host {r.assigned_host} for "
            f"{float(r.silent_s):.0f} s; "
            + (f"retrying in {delay:.0f} s\n" if retry else "giving up\n")
        )
        conn.execute(
            text(
                """
                UPDATE jobs SET status = :status, failures = :failures,
                       not_before = CASE WHEN :retry THEN now() + make_interval(secs => :delay)
                                    END,
                       completed_at = CASE WHEN :retry THEN NULL ELSE now() END,
                       assigned_host = NULL, assigned_gpu = NULL, heartbeat_at = NULL,
                       last_error = 'heartbeat lost', updated_at = now(),
                       log = right(coalesce(log, '') || :line, :cap)
                 WHERE id = :id AND attempt = :attempt AND status = 'running'
                """
            ),
            {
                "status": "pending" if retry else "failed",
                "failures": failures,
                "retry": retry,
                "delay": delay,
                "line": line,
                "cap": settings.log_max_chars,
                "id": r.id,
                "attempt": r.attempt,
            },
        )
        (retried if retry else failed).append(r.id)
        if not retry and r.pipeline_id is not None:
            resolve_pipeline(conn, r.pipeline_id)
    if rows:
        log.warning(
            "rescue: %d retried, %d failed after lost heartbeats", len(retried), len(failed)
        )
    return retried, failed


def _withdraw_from_lost_gpus(conn: Connection, settings: Settings) -> list[int]:
    rows = conn.execute(
        text(
            """
            UPDATE jobs j SET status = 'pending', assigned_gpu = NULL, assigned_host = NULL,
                   queued_at = NULL, updated_at = now(),
                   log = right(coalesce(j.log, '') || 'GPU ' || j.assigned_gpu
                               || ' lost or its host silent; placed again' || chr(10), :cap)
             WHERE j.status = 'queued' AND j.assigned_gpu IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM gpus g JOIN worker_hosts h ON h.name = g.host_name
                    WHERE g.uuid = j.assigned_gpu AND g.healthy
                      AND h.last_seen > now() - make_interval(secs => :t))
            RETURNING j.id
            """
        ),
        {"t": settings.host_timeout_s, "cap": settings.log_max_chars},
    ).all()
    return [r.id for r in rows]
