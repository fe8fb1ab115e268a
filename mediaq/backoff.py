"""Retry backoff: a pure function of the failure count."""

from __future__ import annotations

from datetime import datetime, timedelta


def retry_delay_s(failures: int, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """Seconds to wait before the next attempt after ``failures`` failures (exponential, capped)."""
    if failures <= 0:
        return 0.0
    return float(min(cap_s, base_s * 2 ** (failures - 1)))


def should_retry(failures: int, max_attempts: int, permanent: bool) -> bool:
    """A failed attempt goes back to pending unless it is permanent or the attempts are spent."""
    return not permanent and failures < max_attempts


def next_attempt_at(now: datetime, failures: int, base_s: float = 2.0) -> datetime:
    """When a job that has failed ``failures`` times may run again."""
    return now + timedelta(seconds=retry_delay_s(failures, base_s))
