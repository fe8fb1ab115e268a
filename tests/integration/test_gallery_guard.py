"""One client on one address cannot game or flood the gallery; honest viewers see no change.

Real uvicorn, PostgreSQL and Redis. Each test runs the API with the guard settings it names
(the production defaults unless it says otherwise): the shared fixture's limits are set far
out of reach for the race and contract tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Any

import httpx
import redis

from mediaq.settings import LIMIT_FIELDS, Settings
from mediaq.viewbuffer import ViewBuffer
from tests.integration.apiharness import fire, insert_media, live_server, scalar, user_headers
from tests.integration.fleet import wait_until

GUARD_FIELDS = (
    "rate_limits",
    *LIMIT_FIELDS,
    "sessions_per_address",
    "sessions_window_s",
    "comment_repeat_window_s",
    "view_min_play_s",
    "trusted_proxies",
)
DEFAULTS = {f.name: f.default for f in fields(Settings) if f.name in GUARD_FIELDS}
UPVOTE_ROUTE = "POST /api/media/public/{id}/upvote"


def guarded(settings: Settings, **overrides: Any) -> Settings:
    """The test's settings with every guard setting at its production default, then overrides."""
    return replace(settings, **{**DEFAULTS, **overrides}).validated()


@contextmanager
def api(settings: Settings, redis_client: redis.Redis) -> Iterator[str]:
    with live_server(settings) as base:
        yield base
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)


def _fire(
    base: str, per_connection: list[list[tuple[str, str, Any, dict[str, str] | None]]]
) -> list[tuple[int, Any]]:
    """Every list on its own keep-alive connection, all at once: (status, JSON body)."""
    from tests.integration.apiharness import RawConnection

    async def run(requests: list[tuple[str, str, Any, dict[str, str] | None]]) -> list[Any]:
        conn = await RawConnection.open(base)
        try:
            return [await conn.request(m, p, b, h) for m, p, b, h in requests]
        finally:
            await conn.close()

    async def all_of() -> list[Any]:
        return await asyncio.gather(*(run(r) for r in per_connection))

    chunks = asyncio.run(all_of())
    return [(status, json.loads(body)) for chunk in chunks for status, body in chunk]


def _upvotes(settings: Settings, media: int) -> tuple[int, int]:
    counter = scalar(settings, "SELECT upvote_count FROM public_media WHERE id = %s", media)
    rows = scalar(settings, "SELECT count(*) FROM upvotes WHERE media_id = %s", media)
    return int(counter), int(rows)


def _refusals(base: str) -> dict[tuple[str, str], float]:
    """``mediaq_public_refusals_total`` from /metrics: (route, reason) -> count."""
    out = {}
    for labels, n in re.findall(
        r"^mediaq_public_refusals_total\{(.*)\} (\S+)$", httpx.get(f"{base}/metrics").text, re.M
    ):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out[(pairs["route"], pairs["reason"])] = float(n)
    return out


def test_300_fresh_sessions_from_one_address_move_the_counter_by_the_bound_only(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, sessions_per_address=20, limit_vote_address="1000/minute")
    (media,) = insert_media(guard)
    path = f"/api/media/public/{media}/upvote"
    with api(guard, redis_client) as base:
        # 300 made-up session ids, 30 connections at once: the bound holds under concurrency.
        responses = _fire(
            base,
            [
                [("POST", path, {"sessionId": f"fake-{c}-{i}"}, None) for i in range(10)]
                for c in range(30)
            ],
        )
        statuses = [status for status, _ in responses]
        assert statuses.count(200) == 20 and statuses.count(429) == 280
        refused = next(body for status, body in responses if status == 429)
        assert refused["error"].startswith("Too many sessions from this address: at most 20")
        assert _upvotes(guard, media) == (20, 20)
        # An admitted session is not refused later: it may remove and redo its vote.
        admitted = next(body for status, body in responses if status == 200)
        assert admitted["upvoted"] is True
        one = httpx.post(f"{base}{path}", json={"sessionId": "fake-new"})
        assert one.status_code == 429 and int(one.headers["Retry-After"]) > 0
        assert _refusals(base)[(UPVOTE_ROUTE, "sessions")] == 281


def test_the_default_limits_bound_one_address_and_say_why(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings)  # production defaults: 30 votes/min per address, 20 sessions/h
    (media,) = insert_media(guard)
    path = f"/api/media/public/{media}/upvote"
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:
        answers = [http.post(path, json={"sessionId": f"s{i}"}) for i in range(300)]
        assert [a.status_code for a in answers[:20]] == [200] * 20
        assert {a.status_code for a in answers[20:]} == {429}
        assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[20:])
        assert _upvotes(guard, media) == (20, 20)
        # The address's vote rate is spent too (30 per minute, refused requests included).
        again = http.post(path, json={"sessionId": "s0"})
        assert again.status_code == 429
        assert again.json()["error"].startswith("Too many votes from this address")
        refusals = _refusals(base)
        assert refusals[(UPVOTE_ROUTE, "sessions")] == 10
        assert refusals[(UPVOTE_ROUTE, "address_rate")] == 271
    assert _upvotes(guard, media) == (20, 20)


def test_300_comments_in_a_burst_get_429_after_the_limit_and_store_no_more(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings)  # 3 per minute per session, 10 per minute per address
    (media,) = insert_media(guard)
    with api(guard, redis_client) as base:
        started = time.monotonic()
        responses = _fire(
            base,
            [
                [
                    (
                        "POST",
                        "/api/media/comments",
                        {"mediaId": media, "content": f"spam {c}-{i}", "sessionId": "bot"},
                        None,
                    )
                    for i in range(30)
                ]
                for c in range(10)
            ],
        )
        assert time.monotonic() - started < 30
        statuses = [status for status, _ in responses]
        assert statuses.count(201) == 3 and statuses.count(429) == 297
        for body in (body for status, body in responses if status == 429):
            assert re.fullmatch(
                r"Too many comments from this (session: at most 3|address: at most 10) per "
                r"minute; retry in \d+ s",
                body["error"],
            ), body
        refusals = _refusals(base)
        route = "POST /api/media/comments"
        assert refusals[(route, "session_rate")] + refusals[(route, "address_rate")] == 297
    assert scalar(guard, "SELECT count(*) FROM comments WHERE media_id = %s", media) == 3
    assert scalar(guard, "SELECT comment_count FROM public_media WHERE id = %s", media) == 3


def test_the_same_comment_again_is_refused_from_the_session_and_from_the_address(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, limit_comment_session="20/minute")  # the rate is not the point
    (media, other) = insert_media(guard, 2)
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:

        def post(content: str, session: str, media_id: int = media) -> httpx.Response:
            return http.post(
                "/api/media/comments",
                json={"mediaId": media_id, "content": content, "sessionId": session},
            )

        assert post("Great clip!", "a").status_code == 201
        for body, session, media_id in [
            ("Great clip!", "a", media),
            ("  great   CLIP! ", "a", media),  # case and spacing folded
            ("Great clip!", "a", other),  # on another video too
            ("Great clip!", "b", media),  # a fresh session on the same address
        ]:
            answer = post(body, session, media_id)
            assert answer.status_code == 429, body
            assert answer.json()["error"].startswith("The same comment was already posted")
            assert int(answer.headers["Retry-After"]) == guard.comment_repeat_window_s
        assert post("Great clip, really", "b").status_code == 201
        assert _refusals(base)[("POST /api/media/comments", "repeat")] == 4
    assert scalar(guard, "SELECT count(*) FROM comments") == 2


def test_an_honest_viewer_upvotes_comments_reacts_and_plays_as_before(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings)
    (media,) = insert_media(guard, duration_seconds=120)
    base_path = f"/api/media/public/{media}"
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:
        session = {"sessionId": "honest-viewer"}
        assert http.get(f"{base_path}?sessionId=honest-viewer").status_code == 200
        vote = http.post(f"{base_path}/upvote", json=session)
        assert vote.json() == {"success": True, "upvoted": True, "upvoteCount": 1}
        assert http.delete(f"{base_path}/upvote?sessionId=honest-viewer").json()["upvoted"] is False
        assert http.post(f"{base_path}/upvote", json=session).json()["upvoteCount"] == 1
        comment = http.post(
            "/api/media/comments", json={"mediaId": media, "content": "nice", **session}
        )
        assert comment.status_code == 201
        reaction = http.post(
            "/api/reactions",
            json={"mediaId": media, "reactionType": "love", "videoTimestamp": 30},
            headers=user_headers(guard),
        )
        assert reaction.status_code == 200 and reaction.json()["reaction"]["emoji"] == "❤️"
        for _ in range(4):
            watched = http.post(f"{base_path}/watch-time", json={"seconds": 30, **session})
            assert watched.status_code == 200
        assert watched.json()["totalWatchTime"] == 120
        finished = http.post(f"{base_path}/finish", json=session)
        assert finished.json() == {"success": True, "counted": True, "finishCount": 1}
        assert _refusals(base) == {}
    assert _upvotes(guard, media) == (1, 1)


def test_play_and_reaction_floods_get_429_with_retry_after(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, limit_play_session="5/minute", limit_reaction_session="4/minute")
    (media,) = insert_media(guard, duration_seconds=600)
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:
        watch = [
            http.post(
                f"/api/media/public/{media}/watch-time", json={"seconds": 1, "sessionId": "w"}
            )
            for _ in range(8)
        ]
        assert [a.status_code for a in watch] == [200] * 5 + [429] * 3
        assert watch[-1].json()["error"].startswith("Too many playback reports from this session")
        assert 1 <= int(watch[-1].headers["Retry-After"]) <= 60
        reactions = [
            http.post(
                "/api/reactions",
                json={"mediaId": media, "reactionType": "like", "videoTimestamp": i},
                headers=user_headers(guard, 9),
            )
            for i in range(6)
        ]
        assert [a.status_code for a in reactions] == [200] * 4 + [429] * 2
    assert scalar(guard, "SELECT total_watch_time FROM public_media WHERE id = %s", media) == 5
    assert scalar(guard, "SELECT count(*) FROM video_reactions WHERE media_id = %s", media) == 4


def _addressed_upvotes(
    base: str, media: int, addresses: int, sessions: int
) -> list[tuple[int, Any]]:
    path = f"/api/media/public/{media}/upvote"
    return _fire(
        base,
        [
            [
                ("POST", path, {"sessionId": f"a{a}-s{s}"}, {"X-Forwarded-For": f"203.0.113.{a}"})
                for s in range(sessions)
            ]
            for a in range(addresses)
        ],
    )


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, sessions_per_address=3)  # no trusted proxy configured
    (media,) = insert_media(guard)
    with api(guard, redis_client) as base:
        responses = _addressed_upvotes(base, media, addresses=10, sessions=5)
    # Every request came from 127.0.0.1, whatever the header says: one address, 3 sessions.
    assert [s for s, _ in responses].count(200) == 3
    assert _upvotes(guard, media) == (3, 3)


def test_a_trusted_proxy_forwarded_for_names_the_client(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, sessions_per_address=3, trusted_proxies=("127.0.0.0/8",))
    (media,) = insert_media(guard)
    with api(guard, redis_client) as base:
        responses = _addressed_upvotes(base, media, addresses=10, sessions=5)
    # Ten clients behind the proxy, each with its own bound of 3 sessions.
    assert [s for s, _ in responses].count(200) == 30
    assert _upvotes(guard, media) == (30, 30)


def test_page_views_past_the_session_bound_are_not_counted(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, sessions_per_address=5)
    (media,) = insert_media(guard)
    buffer = ViewBuffer(guard.queue_prefix, guard.view_window_s)
    with api(guard, redis_client) as base:
        responses = asyncio.run(
            fire(
                base,
                [[("GET", f"/api/media/public/{media}?sessionId=v{i}", None)] for i in range(50)],
            )
        )
        assert {status for status, _ in responses} == {200}  # the page itself is never refused
        refusals = wait_until(
            lambda: _refusals(base).get(("GET /api/media/public/{id}", "sessions")) == 45,
            10,
            what="45 views refused",
        )
        assert refusals
        assert buffer.pending_views(redis_client, media) == 5


def test_the_player_view_counts_only_after_the_minimum_play(
    settings: Settings, redis_client: redis.Redis
) -> None:
    guard = guarded(settings, view_min_play_s=2)
    (media, short) = insert_media(guard, 2, duration_seconds=60)
    buffer = ViewBuffer(guard.queue_prefix, guard.view_window_s)
    view = f"/api/media/public/{media}/view"
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:
        # Loading the page with countView=false counts nothing.
        assert http.get(f"/api/media/public/{media}?sessionId=p&countView=false").status_code == 200
        started = http.post(view, json={"sessionId": "p", "playedSeconds": 0})
        assert started.json() == {"success": True, "counted": False, "minPlaySeconds": 2}
        # Claiming 2 s of play at once: the server has not seen 2 s pass.
        early = http.post(view, json={"sessionId": "p", "playedSeconds": 2})
        assert early.json()["counted"] is False
        time.sleep(1.2)  # with the 1 s slack, 2 s of play is now believable
        counted = http.post(view, json={"sessionId": "p", "playedSeconds": 2.1})
        assert counted.json() == {"success": True, "counted": True, "minPlaySeconds": 2}
        again = http.post(view, json={"sessionId": "p", "playedSeconds": 9})
        assert again.json()["counted"] is False  # once per session and window
        assert buffer.pending_views(redis_client, media) == 1
        assert _refusals(base)[("POST /api/media/public/{id}/view", "unplayed")] == 1
        # A script without a player: one report that claims the minimum, never counted.
        bots = [
            http.post(view, json={"sessionId": f"bot{i}", "playedSeconds": 30}).json()["counted"]
            for i in range(5)
        ]
        assert bots == [False] * 5
        bad = http.post(view, json={"sessionId": "p", "playedSeconds": -1})
        assert (bad.status_code, bad.json()) == (
            400,
            {"error": "playedSeconds: Input should be greater than or equal to 0"},
        )
        assert http.get(f"/api/media/public/{short}?countView=maybe").status_code == 400
        assert buffer.pending_views(redis_client, media) == 1


def test_limits_off_lets_everything_through(settings: Settings, redis_client: redis.Redis) -> None:
    guard = guarded(settings, rate_limits=False)
    (media,) = insert_media(guard)
    with api(guard, redis_client) as base:
        responses = _addressed_upvotes(base, media, addresses=1, sessions=60)
    assert {s for s, _ in responses} == {200}
    assert _upvotes(guard, media) == (60, 60)


def test_a_page_on_another_origin_can_read_retry_after(
    settings: Settings, redis_client: redis.Redis
) -> None:
    origin = "https://viewer.example"
    guard = guarded(settings, cors_origins=(origin,), limit_vote_session="1/minute")
    (media,) = insert_media(guard)
    with api(guard, redis_client) as base, httpx.Client(base_url=base) as http:
        path = f"/api/media/public/{media}/upvote"
        headers = {"Origin": origin}
        assert http.post(path, json={"sessionId": "x"}, headers=headers).status_code == 200
        refused = http.post(path, json={"sessionId": "x"}, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == origin
        assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
