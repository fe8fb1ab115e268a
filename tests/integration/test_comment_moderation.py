"""Admin comment moderation: hide, show and delete, with the public list and counter following.

A real uvicorn server on the real PostgreSQL and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from mediaq.settings import Settings
from scheduler.maintenance import reconcile
from tests.integration.apiharness import (
    admin_headers,
    insert_media,
    live_server,
    scalar,
    user_headers,
)


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        yield http
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)


def _post(client: httpx.Client, media: int, text: str, session: str = "s1") -> int:
    answer = client.post(
        "/api/media/comments", json={"mediaId": media, "content": text, "sessionId": session}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["comment"]["id"])


def _public(client: httpx.Client, media: int) -> tuple[list[str], int, int]:
    """(comment bodies of the public list, its total, the media's commentCount)."""
    listed = client.get("/api/media/comments", params={"mediaId": media}).json()
    count = client.get(f"/api/media/public/{media}").json()["commentCount"]
    return [c["content"] for c in listed["comments"]], listed["pagination"]["total"], count


def test_hidden_comments_leave_the_list_and_the_count_and_come_back(
    settings: Settings, client: httpx.Client
) -> None:
    (media,) = insert_media(settings)
    first = _post(client, media, "first")
    spam = _post(client, media, "buy cheap pills", "s2")
    assert _public(client, media) == (["buy cheap pills", "first"], 2, 2)
    admin = admin_headers(settings)

    hidden = client.patch(f"/api/media/comments/{spam}", json={"hidden": True}, headers=admin)
    assert hidden.status_code == 200
    assert hidden.json()["comment"]["hidden"] is True
    assert hidden.json()["comment"]["content"] == "buy cheap pills"
    assert _public(client, media) == (["first"], 1, 1)
    # Hiding twice changes nothing more.
    again = client.patch(f"/api/media/comments/{spam}", json={"hidden": True}, headers=admin)
    assert again.status_code == 200 and again.json()["comment"]["hidden"] is True
    assert _public(client, media) == (["first"], 1, 1)
    # Admins still see it, flagged, to show it again.
    everything = client.get(
        "/api/media/comments", params={"mediaId": media, "includeHidden": "true"}, headers=admin
    ).json()
    assert [(c["content"], c["hidden"]) for c in everything["comments"]] == [
        ("buy cheap pills", True),
        ("first", False),
    ]
    assert everything["pagination"]["total"] == 2
    # The reconciliation agrees that hidden comments are not counted.
    assert reconcile(settings).clean

    shown = client.patch(f"/api/media/comments/{spam}", json={"hidden": False}, headers=admin)
    assert shown.status_code == 200 and shown.json()["comment"]["hidden"] is False
    assert _public(client, media) == (["buy cheap pills", "first"], 2, 2)

    deleted = client.delete(f"/api/media/comments/{first}", headers=admin)
    assert deleted.json() == {"success": True, "id": first}
    assert _public(client, media) == (["buy cheap pills"], 1, 1)
    # Deleting a hidden comment leaves the counter alone (it was not counted).
    client.patch(f"/api/media/comments/{spam}", json={"hidden": True}, headers=admin)
    assert client.delete(f"/api/media/comments/{spam}", headers=admin).status_code == 200
    assert _public(client, media) == ([], 0, 0)
    assert scalar(settings, "SELECT count(*) FROM comments WHERE media_id = %s", media) == 0


def test_moderation_refuses_bad_callers_and_bad_input_changing_nothing(
    settings: Settings, client: httpx.Client
) -> None:
    (media,) = insert_media(settings)
    comment = _post(client, media, "hello")
    path = f"/api/media/comments/{comment}"
    admin = admin_headers(settings)
    cases = [
        (client.patch(path, json={"hidden": True}), 401, "Authentication required"),
        (
            client.patch(path, json={"hidden": True}, headers=user_headers(settings)),
            403,
            "Admin role required",
        ),
        (client.delete(path), 401, "Authentication required"),
        (client.delete(path, headers=user_headers(settings)), 403, "Admin role required"),
        (
            client.patch(path, json={"hidden": "yes"}, headers=admin),
            400,
            "hidden must be true or false",
        ),
        (client.patch(path, json={}, headers=admin), 400, "hidden must be true or false"),
        (
            client.patch("/api/media/comments/999999", json={"hidden": True}, headers=admin),
            404,
            "Comment not found",
        ),
        (client.delete("/api/media/comments/999999", headers=admin), 404, "Comment not found"),
        (
            client.get("/api/media/comments", params={"mediaId": media, "includeHidden": "true"}),
            401,
            "Authentication required",
        ),
    ]
    for answer, status, message in cases:
        assert (answer.status_code, answer.json()) == (status, {"error": message})
    assert _public(client, media) == (["hello"], 1, 1)
