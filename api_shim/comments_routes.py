"""Comments on public media: add (auth optional, else session-based) and list by media.

The comment row and ``comment_count + 1`` are written in one transaction, so the counter
equals the rows. The list's total is that counter (no count per request). Session ids are
never echoed back: they also authorize upvote removal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api_shim.auth import optional_user
from api_shim.errors import ApiError
from api_shim.params import INT32_MAX, body_int, body_str, json_body, query_int
from api_shim.reactions import format_video_time
from api_shim.resources import resources_of
from mediaq.jsonfmt import iso

SMALL_BODY = 32 * 1024
MAX_COMMENT_CHARS = 2000
MAX_AUTHOR_CHARS = 100
SESSION_MAX = 128
MAX_UNKNOWN_DURATION_S = 24 * 3600

MEDIA_STATE = (
    b"SELECT is_locked, duration_seconds, comment_count FROM public_media WHERE id = %(id)s"
)
INSERT_COMMENT = b"""INSERT INTO comments
(media_id, user_id, session_id, author_name, body, video_timestamp)
SELECT id, %(user)s, %(session)s, %(author)s, %(body)s, %(ts)s
FROM public_media WHERE id = %(id)s AND NOT is_locked RETURNING id, created_at"""
BUMP_COMMENTS = b"UPDATE public_media SET comment_count = comment_count + 1 WHERE id = %(id)s"
LIST_COMMENTS = b"""SELECT id, media_id, user_id, author_name, body, video_timestamp, created_at
FROM comments WHERE media_id = %(id)s
ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""


def comment_json(
    id_: int,
    media_id: int,
    user_id: int | None,
    author_name: str | None,
    body: str,
    video_timestamp: int | None,
    created_at: datetime,
) -> dict[str, Any]:
    """One comment: camelCase, with ``formattedTime`` when it marks a moment of the video."""
    return {
        "id": id_,
        "mediaId": media_id,
        "userId": user_id,
        "authorName": author_name,
        "content": body,
        "videoTimestamp": video_timestamp,
        "formattedTime": format_video_time(video_timestamp)
        if video_timestamp is not None
        else None,
        "createdAt": iso(created_at),
    }


def _comment_text(body: dict[str, Any]) -> str:
    name = "content" if "content" in body else "body"
    text = body_str(body, name, max_length=MAX_COMMENT_CHARS)
    if text is None or not text.strip():
        raise ApiError(400, "content is required")
    return text.strip()


async def add_comment(request: Request) -> JSONResponse:
    user = optional_user(request)
    body = await json_body(request, SMALL_BODY)
    media_id = body_int(body, "mediaId", minimum=1, maximum=INT32_MAX, required=True)
    assert media_id is not None
    text = _comment_text(body)
    session = body_str(body, "sessionId", max_length=SESSION_MAX)
    if user is None and (session is None or not session.strip()):
        raise ApiError(400, "sessionId is required")
    author = body_str(body, "authorName", max_length=MAX_AUTHOR_CHARS)
    author = author.strip() if author and author.strip() else None
    if author is None:
        author = f"User {user.id}" if user is not None else "Anonymous"
    timestamp = body_int(body, "videoTimestamp", minimum=0, maximum=INT32_MAX)
    resources = resources_of(request)
    state = await resources.fetch_one(MEDIA_STATE, {"id": media_id})
    if state is None:
        raise ApiError(404, "Media not found")
    if state[0]:
        raise ApiError(403, "Media is locked")
    duration = state[1] if state[1] is not None else MAX_UNKNOWN_DURATION_S
    if timestamp is not None and timestamp > duration:
        raise ApiError(400, f"videoTimestamp must be within the video (0 to {duration} s)")
    params = {
        "id": media_id,
        "user": user.id if user is not None else None,
        "session": session,
        "author": author,
        "body": text,
        "ts": timestamp,
    }
    async with resources.pool.connection() as conn, conn.transaction():
        row = await (await conn.execute(INSERT_COMMENT, params)).fetchone()
        if row is not None:
            await conn.execute(BUMP_COMMENTS, params)
    resources.details.drop(media_id)
    if row is None:
        raise ApiError(403, "Media is locked")
    user_id = user.id if user is not None else None
    comment = comment_json(row[0], media_id, user_id, author, text, timestamp, row[1])
    return JSONResponse({"success": True, "comment": comment}, status_code=201)


async def list_comments(request: Request) -> JSONResponse:
    if not request.query_params.get("mediaId"):
        raise ApiError(400, "mediaId is required")
    media_id = query_int(request, "mediaId", 0, 1)
    limit = query_int(request, "limit", 50, 1, 100)
    offset = query_int(request, "offset", 0, 0)
    resources = resources_of(request)
    state = await resources.fetch_one(MEDIA_STATE, {"id": media_id})
    if state is None or state[0]:
        raise ApiError(404, "Media not found")
    params = {"id": media_id, "limit": limit, "offset": offset}
    rows = await resources.fetch_all(LIST_COMMENTS, params)
    total = int(state[2])
    return JSONResponse(
        {
            "comments": [comment_json(*row) for row in rows],
            "pagination": {
                "total": total,
                "limit": limit,
                "offset": offset,
                "hasMore": offset + len(rows) < total,
            },
        }
    )


ROUTES = [
    Route("/api/media/comments", add_comment, methods=["POST"]),
    Route("/api/media/comments", list_comments, methods=["GET"]),
]
