"""The guard's pure parts: who a client is, what "the same comment" is, how limits parse."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api_shim.guard import GuardPolicy, address_key, comment_fingerprint
from mediaq.errors import ConfigError
from mediaq.guardwire import read_refusals, refusal_field
from mediaq.settings import LIMIT_FIELDS, Settings, settings_to_env


def test_ipv4_is_itself_and_ipv6_is_its_64() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("testclient") == "testclient"
    assert address_key(None) == address_key("") == "unknown"


@hsettings(max_examples=200)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_every_address_of_one_ipv6_64_is_one_client(net: int, a: int, b: int) -> None:
    prefix = (0x2001_0DB8 << 96) | ((net & 0xFFFF_FFFF) << 64)
    first = str(ipaddress.IPv6Address(prefix | a))
    second = str(ipaddress.IPv6Address(prefix | b))
    assert address_key(first) == address_key(second)
    other = str(ipaddress.IPv6Address(prefix ^ (1 << 64) | a))
    assert address_key(other) != address_key(first)


def test_the_same_comment_folds_case_and_spacing_only() -> None:
    assert comment_fingerprint("Great clip!") == comment_fingerprint("  great\n CLIP! ")
    assert comment_fingerprint("Great clip!") != comment_fingerprint("Great clip!!")


def test_limits_parse_and_malformed_ones_name_the_variable() -> None:
    policy = GuardPolicy.from_settings(Settings())
    assert [str(i) for i in policy.limits[("vote", "address")]] == [
        "30 per 1 minute",
        "300 per 1 hour",
    ]
    assert len(policy.limits) == len(LIMIT_FIELDS)
    with pytest.raises(ConfigError, match="MEDIAQ_LIMIT_COMMENT_SESSION"):
        Settings.from_env({"MEDIAQ_LIMIT_COMMENT_SESSION": "three a minute"})
    with pytest.raises(ConfigError, match="MEDIAQ_TRUSTED_PROXIES"):
        Settings.from_env({"MEDIAQ_TRUSTED_PROXIES": "nginx"})


def test_guard_settings_survive_the_environment_and_off_means_off() -> None:
    s = Settings.from_env(
        {
            "MEDIAQ_LIMIT_VOTE_ADDRESS": "5/second;50/hour",
            "MEDIAQ_TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.1",
            "MEDIAQ_SESSIONS_PER_ADDRESS": "7",
            "MEDIAQ_RATE_LIMITS": "false",
        }
    )
    assert s.trusted_proxies == ("10.0.0.0/8", "172.16.0.1")
    assert Settings.from_env(settings_to_env(s)) == s
    off = GuardPolicy.from_settings(s)
    assert not off.enabled and off.sessions_per_address == 0 and off.repeat_window_s == 0


def test_refusal_fields_round_trip() -> None:
    field = refusal_field("POST /api/media/public/{id}/upvote", "sessions")
    raw = {field.encode(): b"3", b"junk": b"1"}
    assert read_refusals(raw) == {("POST /api/media/public/{id}/upvote", "sessions"): 3}
