"""Pure pieces of the API: time format, reaction table, LIKE escaping, SQL shapes, caches."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api_shim.bodies import MediaIdsBody, WatchTimeBody, validate
from api_shim.errors import ApiError
from api_shim.gallery import SORTS, GalleryFilter, SearchTotals, has_more, page_sql
from api_shim.hotcache import HotCache
from api_shim.middleware import origin_allowed
from api_shim.reactions import REACTIONS, format_video_time, reaction_config
from mediaq.likes import contains_pattern
from mediaq.viewbuffer import session_key


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (27, "0:27"), (90, "1:30"), (600, "10:00"), (3600, "1:00:00"), (3661, "1:01:01")],
)
def test_format_video_time_matches_the_seed(seconds: int, text: str) -> None:
    assert format_video_time(seconds) == text


def test_reaction_config_is_the_seed_table_in_order() -> None:
    assert [r["type"] for r in reaction_config()] == [
        "like",
        "love",
        "laugh",
        "wow",
        "sad",
        "angry",
    ]
    assert [r["emoji"] for r in reaction_config()] == ["👍", "❤️", "😂", "😮", "😢", "😠"]
    assert set(REACTIONS) == {r["type"] for r in reaction_config()}


def _ilike(pattern: str, value: str) -> bool:
    """PostgreSQL's ILIKE with ESCAPE '\\', written out with a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.IGNORECASE | re.DOTALL) is not None


@settings(max_examples=300, deadline=None)
@given(term=st.text(alphabet="ab%_\\x", max_size=6), value=st.text(alphabet="ab%_\\x", max_size=10))
def test_contains_pattern_matches_exactly_the_values_containing_the_term(
    term: str, value: str
) -> None:
    assert _ilike(contains_pattern(term), value) == (term.lower() in value.lower())


def test_gallery_sql_uses_one_statement_per_shape_with_the_sort_index_order() -> None:
    def f(**kw: object) -> GalleryFilter:
        base = {"category": None, "orientation": None, "search": None, "sort": "recent"}
        return GalleryFilter(**{**base, **kw}, limit=24, offset=0)  # type: ignore[arg-type]

    assert page_sql(f(category="a")) == page_sql(f(category="b"))  # values are parameters
    assert page_sql(f(category="a")) != page_sql(f())
    popular = page_sql(f(category="a", sort="popular")).decode()
    assert "ORDER BY upvote_count DESC, created_at DESC, id DESC" in popular
    assert "public_media_counts" in popular and "NOT is_locked" in popular
    searching = page_sql(f(search="%x%")).decode()
    assert "NULL::bigint" in searching and "public_media_counts" not in searching
    assert "ESCAPE" in searching
    assert set(SORTS) == {"recent", "popular", "most_viewed"}


def test_has_more_is_the_seeds_rule() -> None:
    assert has_more(0, 12, 145) is True
    assert has_more(133, 12, 145) is False
    assert has_more(0, 0, 0) is False


def test_search_totals_expire_and_stay_bounded() -> None:
    cache = SearchTotals(ttl_s=5, entries=2)
    cache.put(("a",), 3, now=100)
    assert cache.get(("a",), now=104.9) == 3
    assert cache.get(("a",), now=105.0) is None
    cache.put(("b",), 1, now=200)
    cache.put(("c",), 2, now=200)
    cache.put(("d",), 4, now=200)
    assert cache.get(("b",), now=200) is None and cache.get(("d",), now=200) == 4


def test_origin_rules_follow_the_seed() -> None:
    allowed = ("http://localhost:3000",)
    assert origin_allowed(None, allowed, None)  # curl, mobile
    assert origin_allowed("http://localhost:3000", allowed, None)
    assert not origin_allowed("http://localhost:3001", allowed, None)
    assert not origin_allowed("http://evil", (), None)
    assert origin_allowed("http://api:4100", allowed, "http://api:4100")  # same origin
    assert origin_allowed("http://anything", ("*",), None)


def test_session_keys_are_fixed_size_and_distinct() -> None:
    keys = {session_key(s) for s in ("a", "b", "x" * 128, "é", "\ud800")}
    assert len(keys) == 5 and {len(k) for k in keys} == {24}


def test_media_ids_are_validated() -> None:
    assert validate(MediaIdsBody, {"ids": [3, 1, 3]}).ids == [3, 1, 3]
    for bad in ([], None, ["1"], [0], [True], [2**31], list(range(1, 1002))):
        with pytest.raises(ApiError) as info:
            validate(MediaIdsBody, {"ids": bad})
        assert info.value.status_code == 400 and info.value.message.startswith("ids")
    with pytest.raises(ApiError, match="x-unknown: Extra inputs"):
        validate(MediaIdsBody, {"ids": [1], "x-unknown": 42})


def test_watch_seconds_accepts_numbers_only() -> None:
    assert validate(WatchTimeBody, {"seconds": 12.9}).seconds == 12.9
    assert validate(WatchTimeBody, {"watchTime": 5}).watch_time == 5
    for bad in (
        {},
        {"seconds": "5"},
        {"seconds": True},
        {"seconds": -1},
        {"seconds": float("nan")},
        {"seconds": 1, "x-unknown": 1},
    ):
        with pytest.raises(ApiError):
            validate(WatchTimeBody, bad)


def test_hot_cache_expires_drops_and_stays_bounded() -> None:
    cache = HotCache(ttl_s=1.0, max_entries=2)
    cache.put(1, "a", now=10.0)
    assert cache.get(1, now=10.9) == "a"
    assert cache.get(1, now=11.0) is None
    cache.put(1, "a", now=20.0)
    cache.drop(1, 2)
    assert cache.get(1, now=20.0) is None
    cache.put(1, "a", now=30.0)
    cache.put(2, "b", now=30.0)
    cache.put(3, "c", now=30.0)
    assert cache.get(3, now=30.0) == "c" and cache.get(1, now=30.0) is None


def test_hot_cache_reads_once_for_all_concurrent_callers() -> None:
    cache = HotCache(ttl_s=60)
    calls = 0

    async def fetch() -> str | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "row"

    async def many() -> list[str | None]:
        return await asyncio.gather(*(cache.load(5, fetch) for _ in range(50)))

    assert asyncio.run(many()) == ["row"] * 50
    assert calls == 1

    async def failing() -> str | None:
        await asyncio.sleep(0.01)  # the others are waiting on this read when it fails
        raise RuntimeError("database down")

    async def one_fails_the_rest_retry() -> list[object]:
        cache.drop(5)
        first = asyncio.ensure_future(cache.load(5, failing))
        await asyncio.sleep(0)
        rest = [cache.load(5, fetch) for _ in range(3)]
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(one_fails_the_rest_retry())
    assert isinstance(results[0], RuntimeError) and results[1:] == ["row"] * 3
