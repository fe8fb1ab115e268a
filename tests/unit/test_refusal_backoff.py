"""The wait after a refused preflight: short at first, doubling, never past the cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaq.backoff import REFUSAL_BASE_S, REFUSAL_CAP_S, REFUSALS_TO_CAP, refusal_delay_s


@given(st.integers(min_value=1, max_value=10_000))
def test_each_refusal_waits_at_least_as_long_as_the_last_and_never_past_the_cap(n: int) -> None:
    assert refusal_delay_s(n - 1) <= refusal_delay_s(n) <= REFUSAL_CAP_S


def test_the_first_refusal_waits_briefly_and_the_cap_is_reached_where_declared() -> None:
    assert refusal_delay_s(0) == 0.0
    assert refusal_delay_s(1) == REFUSAL_BASE_S
    assert refusal_delay_s(REFUSALS_TO_CAP - 1) < REFUSAL_CAP_S
    assert refusal_delay_s(REFUSALS_TO_CAP) == REFUSAL_CAP_S
