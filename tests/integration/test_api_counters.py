"""Counters that never drift: upvotes under concurrency, buffered views, reconciliation.

Everything goes through a real uvicorn server, the real PostgreSQL and the real Redis.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from mediaq.db import engine_for
from mediaq.metrics import VIEWS_FLUSHED, read_counters
from mediaq.settings import Settings
from mediaq.viewbuffer import ViewBuffer
from scheduler import periodic
from scheduler.maintenance import (
    apply_view_batch,
    drain_views,
    flush_views,
    reconcile,
    reconcile_counters,
)
from tests.integration.apiharness import connect, fire, insert_media, live_server, scalar
from tests.integration.fleet import wait_until


@pytest.fixture
def base(settings: Settings, redis_client: redis.Redis) -> Iterator[str]:
    with live_server(settings) as url:
        yield url
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)


def _fire(base: str, per_connection: list[list[tuple[str, str, Any]]]) -> list[tuple[int, Any]]:
    responses = asyncio.run(fire(base, per_connection))
    return [(status, json.loads(body)) for status, body in responses]


def _counts(settings: Settings, media_id: int) -> tuple[int, int]:
    counter = scalar(settings, "SELECT upvote_count FROM public_media WHERE id = %s", media_id)
    rows = scalar(settings, "SELECT count(*) FROM upvotes WHERE media_id = %s", media_id)
    return int(counter), int(rows)


def test_200_concurrent_upvotes_from_one_session_count_once(settings: Settings, base: str) -> None:
    (media,) = insert_media(settings)
    path = f"/api/media/public/{media}/upvote"
    responses = _fire(base, [[("POST", path, {"sessionId": "same"})] for _ in range(200)])
    assert {status for status, _ in responses} == {200}
    assert all(body["upvoted"] is True for _, body in responses)
    assert _counts(settings, media) == (1, 1)
    assert {body["upvoteCount"] for _, body in responses} == {1}


def test_200_concurrent_upvotes_from_200_sessions_count_200(settings: Settings, base: str) -> None:
    (media,) = insert_media(settings)
    path = f"/api/media/public/{media}/upvote"
    responses = _fire(base, [[("POST", path, {"sessionId": f"s{i}"})] for i in range(200)])
    assert {status for status, _ in responses} == {200}
    assert _counts(settings, media) == (200, 200)
    # Each upvote moved the counter in its own transaction: the counts seen are 1..200, once each.
    assert sorted(body["upvoteCount"] for _, body in responses) == list(range(1, 201))


def test_interleaved_upvotes_and_removals_keep_counter_equal_to_rows(
    settings: Settings, base: str
) -> None:
    (media,) = insert_media(settings)
    path = f"/api/media/public/{media}/upvote"
    rng = random.Random(4)
    # 50 sessions, two connections each, so one session's upvote and removal also race.
    per_connection = []
    for i in range(100):
        session = f"s{i % 50}"
        per_connection.append(
            [
                ("POST", path, {"sessionId": session})
                if rng.random() < 0.55
                else ("DELETE", f"{path}?sessionId={session}", None)
                for _ in range(6)
            ]
        )
    responses = _fire(base, per_connection)
    assert {status for status, _ in responses} == {200}
    counter, rows = _counts(settings, media)
    assert counter == rows
    assert 0 <= rows <= 50


def test_10000_views_from_100_sessions_add_exactly_100_after_a_flush(
    settings: Settings, base: str, redis_client: redis.Redis
) -> None:
    (media, other) = insert_media(settings, 2)
    before = int(scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media))
    per_connection = [
        [("GET", f"/api/media/public/{media}?sessionId=viewer-{i}", None)] * 100 for i in range(100)
    ]
    responses = asyncio.run(fire(base, per_connection))
    assert len(responses) == 10_000
    assert {status for status, _ in responses} == {200}
    buffer = ViewBuffer(settings.queue_prefix, settings.view_window_s)
    wait_until(lambda: buffer.pending_views(redis_client, media) == 100, 10, what="100 pending")
    # Nothing reached the row on the request path: the hot video is not a hot row.
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media) == before
    report = drain_views(settings, redis_client)
    assert report.views == 100
    after = int(scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media))
    assert after - before == 100
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", other) == 0
    # The buffer is empty and a second flush adds nothing.
    assert drain_views(settings, redis_client).views == 0
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media) == after
    # /metrics reports exactly what was flushed
    assert read_counters(redis_client, settings.queue_prefix)[VIEWS_FLUSHED] == 100


def test_views_of_one_session_within_the_window_count_once_and_locked_media_404(
    settings: Settings, base: str, redis_client: redis.Redis
) -> None:
    (media, locked) = insert_media(settings, 2)
    with connect(settings) as conn:
        conn.execute("UPDATE public_media SET is_locked = true WHERE id = %s", (locked,))
    with httpx.Client(base_url=base) as client:
        for _ in range(5):
            assert client.get(
                f"/api/media/public/{media}", headers={"X-Session-Id": "a"}
            ).is_success
        assert client.get(f"/api/media/public/{media}?sessionId=b").is_success
        assert client.get(f"/api/media/public/{locked}?sessionId=c").status_code == 404
    buffer = ViewBuffer(settings.queue_prefix, settings.view_window_s)
    wait_until(lambda: buffer.pending_views(redis_client, media) == 2, 10, what="2 pending")
    assert flush_views(settings) is not None
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media) == 2
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", locked) == 0


def test_a_batch_left_in_flight_by_a_dead_flusher_is_applied_exactly_once(
    settings: Settings, redis_client: redis.Redis
) -> None:
    (media,) = insert_media(settings)
    buffer = ViewBuffer(settings.queue_prefix, settings.view_window_s)
    redis_client.hset(buffer.pending_key, str(media), 7)
    # A flusher drains into a batch, commits, and dies before deleting the batch.
    (batch,) = buffer.begin_drain(redis_client, "dead-flusher")
    with engine_for(settings.database_url).begin() as conn:
        assert apply_view_batch(
            conn, buffer.token_of(batch), buffer.read_batch(redis_client, batch)
        )
    # More views arrive; the next flush finds the old batch still in flight.
    redis_client.hset(buffer.pending_key, str(media), 3)
    report = drain_views(settings, redis_client)
    assert report.batches == 2 and report.replayed == 1 and report.views == 3
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media) == 10
    assert redis_client.scard(buffer.inflight_key) == 0
    # A batch drained but never applied (the flusher died before its commit) is applied later.
    redis_client.hset(buffer.pending_key, str(media), 5)
    buffer.begin_drain(redis_client, "died-before-commit")
    assert drain_views(settings, redis_client).views == 5
    assert scalar(settings, "SELECT view_count FROM public_media WHERE id = %s", media) == 15
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)


def test_maintenance_is_registered_as_periodic_work() -> None:
    names = {task.name for task in periodic.registered()}
    assert {"flush_views", "reconcile_counters"} <= names


def test_reconciliation_fixes_drift_and_reports_it(settings: Settings, base: str) -> None:
    (a, b, c) = insert_media(settings, 3, category="cat1", orientation="portrait")
    with httpx.Client(base_url=base) as client:
        for i in range(3):
            assert client.post(f"/api/media/public/{a}/upvote", json={"sessionId": f"s{i}"})
        body = {"mediaId": b, "content": "nice", "sessionId": "x"}
        assert client.post("/api/media/comments", json=body).status_code == 201
    assert reconcile(settings).clean  # the API keeps every counter exact
    with connect(settings) as conn:  # someone writes around the API
        conn.execute("UPDATE public_media SET upvote_count = 10 WHERE id = %s", (a,))
        conn.execute("UPDATE public_media SET comment_count = 0 WHERE id = %s", (b,))
        conn.execute("DELETE FROM upvotes WHERE media_id = %s AND session_id = 's0'", (a,))
        conn.execute("UPDATE public_media_counts SET n = n + 5 WHERE category = 'cat1'")
    line = reconcile_counters(settings)
    assert line is not None
    assert "upvote_count fixed on 1 media (drift 8)" in line
    assert "comment_count fixed on 1 media (drift 1)" in line
    assert "gallery totals fixed 1" in line
    assert _counts(settings, a) == (2, 2)
    assert scalar(settings, "SELECT comment_count FROM public_media WHERE id = %s", b) == 1
    assert scalar(settings, "SELECT n FROM public_media_counts WHERE category = 'cat1'") == 3
    assert reconcile_counters(settings) is None
    assert c  # untouched


def test_finish_and_watch_time_stay_exact_under_concurrency(settings: Settings, base: str) -> None:
    (media,) = insert_media(settings, duration_seconds=100)
    finish = f"/api/media/public/{media}/finish"
    watch = f"/api/media/public/{media}/watch-time"
    per_connection = [[("POST", finish, {"sessionId": f"f{i}"})] for i in range(100)]
    per_connection += [[("POST", finish, {"sessionId": "same"})] for _ in range(50)]
    # 40 x 10 s from one session on a 100 s video: never more than the video lasts.
    per_connection += [[("POST", watch, {"seconds": 10, "sessionId": "w"})] for _ in range(40)]
    responses = _fire(base, per_connection)
    assert {status for status, _ in responses} == {200}
    assert scalar(settings, "SELECT finish_count FROM public_media WHERE id = %s", media) == 101
    assert scalar(settings, "SELECT total_watch_time FROM public_media WHERE id = %s", media) == 100
    recorded = [body["recorded"] for _, body in responses if "recorded" in body]
    assert sum(recorded) == 100 and sorted(set(recorded)) == [0, 10]
