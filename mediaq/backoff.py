"""Retry backoff: a pure function of the failure count."""

from __future__ import annotations

import math
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


REFUSAL_BASE_S = 0.5
REFUSAL_CAP_S = 30.0
# refusal_delay_s reaches its cap by this count; later refusals wait the cap
REFUSALS_TO_CAP = 1 + math.ceil(math.log2(REFUSAL_CAP_S / REFUSAL_BASE_S))


def refusal_delay_s(refusals: int) -> float:
    """Seconds a job waits before it may be admitted again after its ``refusals``-th refused
    preflight (the GPU memory was not there, or the host could not check): 0.5 s, doubling,
    capped at 30 s. A refusal is not a failure and never spends an attempt, so without this
    a host whose preflight cannot answer would take the job back many times a second."""
    if refusals <= 0:
        return 0.0
    doublings = min(refusals, REFUSALS_TO_CAP) - 1
    return float(min(REFUSAL_CAP_S, REFUSAL_BASE_S * 2**doublings))
