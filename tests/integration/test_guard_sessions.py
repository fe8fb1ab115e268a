"""The sessions-per-address rule (``mediaq.guardwire.ADMIT_SESSION_LUA``) on the real Redis,
against a plain model of it: any sequence of (address, session) gets the model's answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mediaq.guardwire import ADMIT_SESSION_LUA
from tests.integration.fleet import wait_until

SCRIPT = ADMIT_SESSION_LUA + (
    "return admit_session(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))"
)
BOUND = 3


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    from tests.conftest import REDIS_URL

    conn = redis.Redis.from_url(REDIS_URL)
    yield conn
    conn.close()


def model(steps: list[tuple[int, int]], bound: int) -> list[bool]:
    """Admitted when the address already has the session, or has fewer than ``bound``."""
    seen: dict[int, set[int]] = {}
    answers = []
    for address, session in steps:
        have = seen.setdefault(address, set())
        ok = session in have or len(have) < bound
        if ok:
            have.add(session)
        answers.append(ok)
    return answers


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 6)), max_size=40))
def test_admissions_follow_the_model(client: redis.Redis, steps: list[tuple[int, int]]) -> None:
    prefix = f"mqtgs{uuid.uuid4().hex[:8]}:"
    admit = client.register_script(SCRIPT)
    try:
        answers = [
            int(admit(keys=[f"{prefix}{address}"], args=[f"s{session}", BOUND, 3600])) == 0
            for address, session in steps
        ]
        assert answers == model(steps, BOUND)
    finally:
        for address in range(3):
            client.delete(f"{prefix}{address}")


def test_a_slot_frees_when_its_session_leaves_the_window_and_zero_is_unbounded(
    client: redis.Redis,
) -> None:
    key = f"mqtgs{uuid.uuid4().hex[:8]}:a"
    admit = client.register_script(SCRIPT)
    try:
        assert int(admit(keys=[key], args=["s1", 1, 1])) == 0
        wait_s = int(admit(keys=[key], args=["s2", 1, 1]))
        assert wait_s == 1  # seconds until s1 leaves the 1 s window
        started = time.monotonic()
        wait_until(lambda: int(admit(keys=[key], args=["s2", 1, 1])) == 0, 5, what="s2 admitted")
        assert time.monotonic() - started < 5
        assert all(int(admit(keys=[key + "x"], args=[f"z{i}", 0, 1])) == 0 for i in range(50))
    finally:
        client.delete(key, key + "x")
