"""When the scheduler's next pass starts, from the notifications since the last one (pure).

The jobs table notifies ``mediaq_jobs`` with what happened (migration 0009): ``new`` for
inserted rows, else the status a row moved to; an operator's pause sends ``pause``. New
work, a job back to pending or a pause wants a pass at once (``FAST_PASS_GAP_S`` after the
previous one started, so a burst is one pass). A finish only frees a slot, and the broker
still holds the look-ahead: passes for finishes alone are folded until they add up to half
the look-ahead, or ``FREED_PASS_GAP_S`` went by, unless the last pass left a job pending
that is more urgent than one waiting in the broker (it must overtake that one before a
worker takes it: exact order). When many workers finish at once this is one
pass, not one per finish, and each pass admits and publishes a batch.
"""

from __future__ import annotations

from mediaq.jobstates import TERMINAL

FAST_PASS_GAP_S = 0.005
FREED_PASS_GAP_S = 0.02
FREED = frozenset(s.value for s in TERMINAL)  # finishes: a slot freed, nothing new


def next_pass_at(
    started: float, urgent: bool, freed: int, lookahead: int, overtake_waiting: bool = False
) -> float | None:
    """When the next pass may start (on the clock of ``started``, when the last one began),
    given whether anything but a finish was notified, how many finishes were, and whether
    the last pass left a job waiting to overtake; None while nothing was notified (the tick
    runs the next pass)."""
    if urgent or (freed and (overtake_waiting or freed >= max(1, lookahead // 2))):
        return started + FAST_PASS_GAP_S
    if freed:
        return started + FREED_PASS_GAP_S
    return None
