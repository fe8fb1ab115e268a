"""Rescue: nothing stays stuck, nothing runs twice at once.

- A queued job no worker claimed within ``claim_timeout_s`` is published again (the broker
  may have lost it: Redis flushed or restarted). A duplicate is harmless: only one delivery
  can claim.
- A running job whose heartbeat stopped for ``heartbeat_timeout_s`` (worker killed, host
  lost) is a failed attempt like any other (``jobstates.decide_failure``): retried with
  backoff or failed after its maximum attempts; its reservation is freed with it. A job
  that really runs for hours keeps heartbeating and is never touched.
- A queued GPU job whose host stopped heartbeating, or whose GPU was lost, goes back to
  pending to be placed elsewhere (its attempt was never started, so it is not a failure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from mediaq import transitions
from mediaq.settings import Settings
from mediaq.transitions import Admitted

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
    cap = settings.log_max_chars
    withdrawn = transitions.withdraw_from_lost_gpus(conn, settings.host_timeout_s, cap)
    republished = transitions.republish_unclaimed(conn, settings.claim_timeout_s, cap)
    lost = transitions.fail_silent_attempts(conn, settings.heartbeat_timeout_s, cap)
    retried = [job_id for job_id, d in lost.items() if d.retry]
    failed = [job_id for job_id, d in lost.items() if not d.retry]
    if lost:
        log.warning(
            "rescue: %d retried, %d failed after lost heartbeats", len(retried), len(failed)
        )
    return RescueReport(republished, retried, failed, withdrawn)
