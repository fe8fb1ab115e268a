"""Hostile input: every bad request gets a 4xx ``{"error"}``, never a 500, never a changed row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mediaq.settings import Settings
from tests.integration.apiharness import (
    admin_headers,
    connect,
    insert_media,
    live_server,
    user_headers,
)

SNAPSHOT = """
SELECT (SELECT count(*) FROM upvotes), (SELECT count(*) FROM video_reactions),
       (SELECT count(*) FROM comments),
       (SELECT sum(upvote_count + comment_count + finish_count + total_watch_time + view_count)
          FROM public_media),
       (SELECT count(*) FROM public_media WHERE is_locked)
"""


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[httpx.Client, int]]:
    (media,) = insert_media(settings, duration_seconds=100, filename="plain.mp4")
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        yield http, media


def _snapshot(settings: Settings) -> Any:
    with connect(settings) as conn:
        return conn.execute(SNAPSHOT).fetchone()


def bad_requests(media: int, user: dict[str, str], admin: dict[str, str]) -> list[dict[str, Any]]:
    up = f"/api/media/public/{media}/upvote"
    watch = f"/api/media/public/{media}/watch-time"
    react = {"mediaId": media, "reactionType": "like", "videoTimestamp": 5}
    comment = {"mediaId": media, "content": "hello", "sessionId": "s"}
    return [
        {"method": "GET", "url": "/api/media/public?limit=abc"},
        {"method": "GET", "url": "/api/media/public?limit=0"},
        {"method": "GET", "url": "/api/media/public?offset=-1"},
        {"method": "GET", "url": "/api/media/public?sort=upvote_count;DROP TABLE x"},
        {"method": "GET", "url": "/api/media/public?search=a%00b"},
        {"method": "GET", "url": "/api/media/public?category=" + "x" * 101},
        {"method": "GET", "url": "/api/media/public/abc"},
        {"method": "GET", "url": "/api/media/public/0"},
        {"method": "GET", "url": "/api/media/public/99999999999"},
        {"method": "GET", "url": f"/api/media/public/{media}?sessionId=" + "s" * 129},
        {"method": "POST", "url": up, "content": b"{not json", "headers": {"content-type": "a/b"}},
        {"method": "POST", "url": up, "json": ["sessionId"]},
        {"method": "POST", "url": up, "json": {"sessionId": 12}},
        {"method": "POST", "url": up, "json": {"sessionId": "   "}},
        {"method": "POST", "url": up, "json": {"sessionId": "s" * 129}},
        {"method": "POST", "url": up, "json": {"sessionId": "a\x00b"}},
        {"method": "POST", "url": up, "json": {"sessionId": "x", "pad": "p" * 20_000}},
        {"method": "DELETE", "url": f"{up}?sessionId=" + "s" * 129},
        {"method": "POST", "url": watch, "json": {"seconds": -1}},
        {"method": "POST", "url": watch, "json": {"seconds": "10"}},
        {"method": "POST", "url": watch, "json": {"seconds": True}},
        {"method": "POST", "url": watch, "json": {"seconds": 101}},
        {"method": "POST", "url": watch, "json": {}},
        {"method": "POST", "url": watch, "content": b'{"seconds": NaN}'},
        {"method": "POST", "url": watch, "content": b'{"seconds": Infinity}'},
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "videoTimestamp": 101},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "videoTimestamp": -1},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "videoTimestamp": "5"},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "mediaId": str(media)},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "mediaId": True},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "reactionType": "LIKE"},
            "headers": user,
        },
        {
            "method": "POST",
            "url": "/api/reactions",
            "json": {**react, "mediaId": 2**40},
            "headers": user,
        },
        {"method": "GET", "url": "/api/reactions?mediaId=x"},
        {"method": "GET", "url": "/api/reactions?userId=abc"},
        {"method": "POST", "url": "/api/media/comments", "json": {**comment, "content": "   "}},
        {
            "method": "POST",
            "url": "/api/media/comments",
            "json": {**comment, "content": "x" * 2001},
        },
        {"method": "POST", "url": "/api/media/comments", "json": {**comment, "content": 5}},
        {
            "method": "POST",
            "url": "/api/media/comments",
            "json": {**comment, "videoTimestamp": 101},
        },
        {
            "method": "POST",
            "url": "/api/media/comments",
            "json": {**comment, "authorName": "a" * 101},
        },
        {"method": "POST", "url": "/api/media/comments", "json": {**comment, "mediaId": 0}},
        {"method": "GET", "url": "/api/media/comments?mediaId=-3"},
        {"method": "POST", "url": "/api/admin/media/lock", "json": {"ids": []}, "headers": admin},
        {
            "method": "POST",
            "url": "/api/admin/media/lock",
            "json": {"ids": ["1"]},
            "headers": admin,
        },
        {
            "method": "POST",
            "url": "/api/admin/media/lock",
            "json": {"ids": list(range(1, 1002))},
            "headers": admin,
        },
        {
            "method": "POST",
            "url": "/api/admin/media/lock",
            "json": {"ids": [media], "reason": 4},
            "headers": admin,
        },
        {"method": "GET", "url": "/api/videos?limit=-5", "headers": admin},
        {"method": "GET", "url": "/api/videos?directoryType=nope", "headers": admin},
        {"method": "PATCH", "url": "/api/media/public"},
        {"method": "GET", "url": "/api/nope"},
    ]


def test_bad_input_gets_a_4xx_error_and_changes_nothing(
    settings: Settings, served: tuple[httpx.Client, int]
) -> None:
    client, media = served
    before = _snapshot(settings)
    for request in bad_requests(media, user_headers(settings), admin_headers(settings)):
        r = client.request(**request)
        assert 400 <= r.status_code < 500, (request["url"], r.status_code, r.text)
        assert set(r.json()) == {"error"}, request["url"]
        assert r.json()["error"], request["url"]
    assert _snapshot(settings) == before


def test_oversized_bodies_are_refused_with_413(
    settings: Settings, served: tuple[httpx.Client, int]
) -> None:
    client, media = served
    before = _snapshot(settings)
    huge = b'{"sessionId": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    r = client.post(f"/api/media/public/{media}/upvote", content=huge)
    assert r.status_code == 413 and "at most" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(18):
            yield b" " * (1024 * 1024)

    streamed = client.post(f"/api/media/public/{media}/upvote", content=chunks())
    assert streamed.status_code == 413
    assert _snapshot(settings) == before


def test_limit_is_capped_at_100_and_search_matches_percent_and_underscore_literally(
    settings: Settings, served: tuple[httpx.Client, int]
) -> None:
    client, _ = served
    insert_media(settings, 1, category="lit", filename="100% real.mp4", path="/p/100% real.mp4")
    insert_media(settings, 1, category="lit", filename="a_b.mp4", path="/p/a_b.mp4")
    insert_media(settings, 1, category="lit", filename="axb.mp4", path="/p/axb.mp4")
    insert_media(settings, 1, category="lit", filename="back\\slash.mp4", path="/p/back\\slash.mp4")
    insert_media(settings, 105, category="bulk")
    capped = client.get("/api/media/public?category=bulk&limit=1000").json()
    assert capped["pagination"]["limit"] == 100 and len(capped["videos"]) == 100
    assert capped["pagination"]["total"] == 105 and capped["pagination"]["hasMore"] is True

    def names(term: str) -> list[str]:
        found = client.get("/api/media/public", params={"search": term, "category": "lit"}).json()[
            "videos"
        ]
        return sorted(v["filename"] for v in found)

    assert names("%") == ["100% real.mp4"]
    assert names("a_b") == ["a_b.mp4"]
    assert names("_") == ["a_b.mp4"]
    assert names("\\") == ["back\\slash.mp4"]
    assert names("AXB") == ["axb.mp4"]  # case-insensitive, as the seed
    total = client.get("/api/media/public", params={"search": "_", "category": "lit"}).json()[
        "pagination"
    ]
    assert total["total"] == 1
