"""Contract tests: every endpoint's status codes and JSON keys exactly as the seed prints them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import redis

from mediaq.settings import Settings
from tests.integration.apiharness import (
    admin_headers,
    connect,
    insert_media,
    live_server,
    scalar,
    user_headers,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

GALLERY_KEYS = {
    "id",
    "filename",
    "category",
    "durationSeconds",
    "quality",
    "orientation",
    "thumbnailPath",
    "viewCount",
    "upvoteCount",
    "commentCount",
    "isLocked",
    "createdAt",
    # additions: where a browser fetches the bytes
    "streamUrl",
    "thumbnailUrl",
}
MEDIA_KEYS = GALLERY_KEYS | {
    "path",
    "fileSize",
    "finishCount",
    "totalWatchTime",
    "updatedAt",
    "storyboardUrl",
}
VIDEO_KEYS = {
    "id",
    "title",
    "filename",
    "duration",
    "fileSize",
    "width",
    "height",
    "createdAt",
    "updatedAt",
}
REACTION_KEYS = {
    "id",
    "mediaId",
    "userId",
    "reactionType",
    "videoTimestamp",
    "emoji",
    "formattedTime",
    "createdAt",
}


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        yield http
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)


def test_gallery_list_shape_and_pagination(settings: Settings, client: httpx.Client) -> None:
    insert_media(
        settings,
        3,
        category="highlights",
        duration_seconds=45,
        quality="1080p",
        orientation="landscape",
        thumbnail_path="/thumbnails/x.jpg",
        file_size=15728640,
    )
    r = client.get("/api/media/public", params={"category": "highlights", "limit": 2})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert set(data) == {"videos", "pagination"}
    assert data["pagination"] == {"total": 3, "limit": 2, "offset": 0, "hasMore": True}
    assert len(data["videos"]) == 2
    item = data["videos"][0]
    assert set(item) == GALLERY_KEYS
    assert item["durationSeconds"] == 45 and item["quality"] == "1080p"
    assert item["isLocked"] is False and ISO.match(item["createdAt"])
    last = client.get("/api/media/public?category=highlights&limit=2&offset=2").json()
    assert last["pagination"] == {"total": 3, "limit": 2, "offset": 2, "hasMore": False}
    assert len(last["videos"]) == 1
    empty = client.get("/api/media/public?category=nothing-here").json()
    assert empty == {
        "videos": [],
        "pagination": {"total": 0, "limit": 24, "offset": 0, "hasMore": False},
    }


def test_media_get_shape(settings: Settings, client: httpx.Client) -> None:
    (media,) = insert_media(settings, duration_seconds=45, file_size=15728640)
    r = client.get(f"/api/media/public/{media}")
    assert r.status_code == 200
    data = r.json()
    assert set(data) == MEDIA_KEYS
    assert data["id"] == media and data["fileSize"] == 15728640
    assert ISO.match(data["createdAt"]) and ISO.match(data["updatedAt"])
    missing = client.get("/api/media/public/999999")
    assert (missing.status_code, missing.json()) == (404, {"error": "Media not found"})


def test_upvote_and_removal_shapes_and_errors(settings: Settings, client: httpx.Client) -> None:
    (media, locked) = insert_media(settings, 2)
    with connect(settings) as conn:
        conn.execute("UPDATE public_media SET is_locked = true WHERE id = %s", (locked,))
    path = f"/api/media/public/{media}/upvote"
    first = client.post(path, json={"sessionId": "sess_abc123def456"})
    assert (first.status_code, first.json()) == (
        200,
        {"success": True, "upvoted": True, "upvoteCount": 1},
    )
    again = client.post(path, json={"sessionId": "sess_abc123def456"})
    assert again.json() == {"success": True, "upvoted": True, "upvoteCount": 1}
    removed = client.delete(path, params={"sessionId": "sess_abc123def456"})
    assert (removed.status_code, removed.json()) == (
        200,
        {"success": True, "upvoted": False, "upvoteCount": 0},
    )
    assert client.delete(path, params={"sessionId": "sess_abc123def456"}).json()["upvoteCount"] == 0
    no_session = client.post(path, json={})
    assert (no_session.status_code, no_session.json()) == (400, {"error": "sessionId is required"})
    assert client.delete(path).json() == {"error": "sessionId is required"}
    unknown = client.post("/api/media/public/999999/upvote", json={"sessionId": "s"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Media not found"})
    on_locked = client.post(f"/api/media/public/{locked}/upvote", json={"sessionId": "s"})
    assert (on_locked.status_code, on_locked.json()) == (403, {"error": "Media is locked"})
    assert scalar(settings, "SELECT count(*) FROM upvotes") == 0


def test_finish_and_watch_time(settings: Settings, client: httpx.Client) -> None:
    (media,) = insert_media(settings, duration_seconds=100)
    finish = client.post(f"/api/media/public/{media}/finish", json={"sessionId": "a"})
    assert finish.status_code == 200
    assert finish.json() == {"success": True, "counted": True, "finishCount": 1}
    again = client.post(f"/api/media/public/{media}/finish", json={"sessionId": "a"})
    assert again.json() == {"success": True, "counted": False, "finishCount": 1}
    assert client.post(f"/api/media/public/{media}/finish").json()["finishCount"] == 2
    watch = client.post(f"/api/media/public/{media}/watch-time", json={"seconds": 60})
    assert watch.json() == {"success": True, "recorded": 60, "totalWatchTime": 60}
    capped = [
        client.post(
            f"/api/media/public/{media}/watch-time", json={"seconds": 70, "sessionId": "b"}
        ).json()
        for _ in range(2)
    ]
    assert [c["recorded"] for c in capped] == [70, 30]  # a session never exceeds the duration
    assert capped[-1]["totalWatchTime"] == 160
    too_long = client.post(f"/api/media/public/{media}/watch-time", json={"seconds": 101})
    assert too_long.status_code == 400 and "duration" in too_long.json()["error"]


def test_reactions_post_get_config(settings: Settings, client: httpx.Client) -> None:
    (media,) = insert_media(settings, duration_seconds=4000)
    body = {"mediaId": media, "reactionType": "love", "videoTimestamp": 27}
    r = client.post("/api/reactions", json=body, headers=user_headers(settings, 123))
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"success", "reaction"} and data["success"] is True
    assert set(data["reaction"]) == REACTION_KEYS
    assert data["reaction"]["emoji"] == "❤️" and data["reaction"]["formattedTime"] == "0:27"
    assert data["reaction"]["userId"] == 123
    later = {"mediaId": media, "reactionType": "laugh", "videoTimestamp": 3661}
    assert client.post("/api/reactions", json=later, headers=user_headers(settings, 124)).is_success
    listed = client.get("/api/reactions", params={"mediaId": media, "limit": 20}).json()
    assert set(listed) == {"reactions"}
    assert [x["formattedTime"] for x in listed["reactions"]] == ["0:27", "1:01:01"]
    assert [x["emoji"] for x in listed["reactions"]] == ["❤️", "😂"]
    by_user = client.get("/api/reactions", params={"userId": 124}).json()["reactions"]
    assert [x["userId"] for x in by_user] == [124]
    config = client.get("/api/reactions/config").json()
    assert config == {
        "reactions": [
            {"type": "like", "emoji": "👍", "label": "Like"},
            {"type": "love", "emoji": "❤️", "label": "Love"},
            {"type": "laugh", "emoji": "😂", "label": "Laugh"},
            {"type": "wow", "emoji": "😮", "label": "Wow"},
            {"type": "sad", "emoji": "😢", "label": "Sad"},
            {"type": "angry", "emoji": "😠", "label": "Angry"},
        ]
    }
    bad = client.post(
        "/api/reactions", json={**body, "reactionType": "meh"}, headers=user_headers(settings)
    )
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid reaction type"})
    gone = client.post(
        "/api/reactions", json={**body, "mediaId": 999999}, headers=user_headers(settings)
    )
    assert (gone.status_code, gone.json()) == (404, {"error": "Video not found"})
    assert client.post("/api/reactions", json=body).status_code == 401


def test_comments_post_and_list(settings: Settings, client: httpx.Client) -> None:
    (media,) = insert_media(settings, duration_seconds=300)
    anonymous = client.post(
        "/api/media/comments",
        json={"mediaId": media, "content": "first!", "sessionId": "s1", "videoTimestamp": 90},
    )
    assert anonymous.status_code == 201
    comment = anonymous.json()["comment"]
    assert set(comment) == {
        "id",
        "mediaId",
        "userId",
        "authorName",
        "content",
        "videoTimestamp",
        "formattedTime",
        "createdAt",
    }
    assert comment["authorName"] == "Anonymous" and comment["formattedTime"] == "1:30"
    signed = client.post(
        "/api/media/comments",
        json={"mediaId": media, "content": "second"},
        headers=user_headers(settings, 5),
    )
    assert signed.status_code == 201 and signed.json()["comment"]["userId"] == 5
    no_session = client.post("/api/media/comments", json={"mediaId": media, "content": "x"})
    assert (no_session.status_code, no_session.json()) == (400, {"error": "sessionId is required"})
    listed = client.get("/api/media/comments", params={"mediaId": media}).json()
    assert [c["content"] for c in listed["comments"]] == ["second", "first!"]
    assert listed["pagination"] == {"total": 2, "limit": 50, "offset": 0, "hasMore": False}
    assert "s1" not in client.get(f"/api/media/comments?mediaId={media}").text
    assert scalar(settings, "SELECT comment_count FROM public_media WHERE id = %s", media) == 2
    assert client.get("/api/media/comments").json() == {"error": "mediaId is required"}


def test_admin_videos_list_get_health(settings: Settings, client: httpx.Client) -> None:
    with connect(settings) as conn:
        for i, title in enumerate(["Demo Video", "Other", "50% demo_cut"]):
            conn.execute(
                "INSERT INTO videos (path, filename, title, duration_seconds, file_size, width, "
                "height) VALUES (%s, %s, %s, 300, 52428800, 1920, 1080)",
                (f"/lib/v{i}.mp4", f"v{i}.mp4", title),
            )
    admin = admin_headers(settings)
    r = client.get("/api/videos", params={"limit": 20, "search": "demo"}, headers=admin)
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"videos", "total", "limit", "offset"}
    assert (data["total"], data["limit"], data["offset"]) == (2, 20, 0)
    assert all(set(v) == VIDEO_KEYS for v in data["videos"])
    video = data["videos"][0]
    one = client.get(f"/api/videos/{video['id']}", headers=admin)
    assert one.status_code == 200 and set(one.json()) >= VIDEO_KEYS
    assert client.get("/api/videos/999999", headers=admin).json() == {"error": "Video not found"}
    assert client.get("/api/videos").status_code == 401
    assert client.get("/api/videos", headers=user_headers(settings)).status_code == 403
    health = client.get("/api/videos/health")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "database": "ok", "redis": "ok"},
    )


def test_admin_lock_unlock_hides_and_shows_media(settings: Settings, client: httpx.Client) -> None:
    ids = insert_media(settings, 3, category="curated")
    admin = admin_headers(settings)
    locked = client.post(
        "/api/admin/media/lock",
        json={"ids": [ids[0], ids[1], 999999], "reason": "reported"},
        headers=admin,
    )
    assert locked.json() == {"success": True, "locked": ids[:2], "notFound": [999999]}
    gallery = client.get("/api/media/public?category=curated").json()
    assert [v["id"] for v in gallery["videos"]] == [ids[2]]
    assert gallery["pagination"]["total"] == 1
    assert client.get(f"/api/media/public/{ids[0]}").status_code == 404
    listed = client.get("/api/admin/media?locked=true", headers=admin).json()
    assert {m["id"] for m in listed["media"]} == set(ids[:2])
    assert listed["media"][0]["lockedReason"] == "reported"
    assert client.post("/api/admin/media/lock", json={"ids": [ids[2]]}).status_code == 401
    user = user_headers(settings)
    assert (
        client.post("/api/admin/media/lock", json={"ids": [ids[2]]}, headers=user).status_code
        == 403
    )
    unlocked = client.post("/api/admin/media/unlock", json={"ids": ids}, headers=admin).json()
    assert unlocked == {"success": True, "unlocked": ids[:2], "notFound": []}
    assert client.get("/api/media/public?category=curated").json()["pagination"]["total"] == 3


def test_openapi_document_lists_every_route(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/videos",
        "/api/videos/{id}",
        "/api/videos/health",
        "/api/media/public",
        "/api/media/public/{id}",
        "/api/media/public/{id}/upvote",
        "/api/media/public/{id}/finish",
        "/api/media/public/{id}/watch-time",
        "/api/reactions",
        "/api/reactions/config",
        "/api/media/comments",
        "/api/admin/media/lock",
        "/api/admin/media/unlock",
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/cancel",
        "/api/jobs/{id}/retry",
        "/api/jobs/queue",
        "/api/pipelines",
        "/api/pipelines/{id}",
    ):
        assert path in doc["paths"], path


def test_a_media_page_shows_this_process_writes_at_once(
    settings: Settings, client: httpx.Client
) -> None:
    (media,) = insert_media(settings, duration_seconds=60)
    assert client.get(f"/api/media/public/{media}").json()["upvoteCount"] == 0  # now cached
    client.post(f"/api/media/public/{media}/upvote", json={"sessionId": "s"})
    assert client.get(f"/api/media/public/{media}").json()["upvoteCount"] == 1
    client.post("/api/media/comments", json={"mediaId": media, "content": "c", "sessionId": "s"})
    assert client.get(f"/api/media/public/{media}").json()["commentCount"] == 1
    client.post(f"/api/media/public/{media}/finish")
    assert client.get(f"/api/media/public/{media}").json()["finishCount"] == 1
    client.post("/api/admin/media/lock", json={"ids": [media]}, headers=admin_headers(settings))
    assert client.get(f"/api/media/public/{media}").status_code == 404
