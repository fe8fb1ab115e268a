"""Comments on public media: add (auth optional, else session-based), list by media, moderate.

The comment row and ``comment_count + 1`` are written in one transaction, so the counter
equals the visible rows. An admin may hide a comment (``PATCH /api/media/comments/{id}``
with ``{"hidden": true|false}``) or delete it (``DELETE``); a hidden comment leaves the public
list and ``comment_count`` in the transaction that hides it, and comes back when unhidden.
The list's total is that counter (no count per request). Session ids are never echoed back:
they also authorize upvote removal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.auth import User, require_admin
from api_shim.bodies import CommentBody, HiddenBody
from api_shim.endpoints import Endpoint, Link, api
from api_shim.errors import ApiError
from api_shim.guard import client_address, session_identity, user_identity
from api_shim.queries import CommentsQuery, IdPath
from api_shim.reactions import format_video_time
from api_shim.resources import Conn, resources_of
from mediaq.jsonfmt import iso

SMALL_BODY = 32 * 1024
MAX_UNKNOWN_DURATION_S = 24 * 3600

MEDIA_STATE = (
    b"SELECT is_locked, duration_seconds, comment_count FROM public_media WHERE id = %(id)s"
)
INSERT_COMMENT = b"""INSERT INTO comments
(media_id, user_id, session_id, author_name, body, video_timestamp)
SELECT id, %(user)s, %(session)s, %(author)s, %(body)s, %(ts)s
FROM public_media WHERE id = %(id)s AND NOT is_locked RETURNING id, created_at"""
BUMP_COMMENTS = b"UPDATE public_media SET comment_count = comment_count + 1 WHERE id = %(id)s"
COMMENT_COLUMNS = b"id, media_id, user_id, author_name, body, video_timestamp, created_at"
LIST_COMMENTS = (
    b"SELECT "
    + COMMENT_COLUMNS
    + b""" FROM comments
WHERE media_id = %(id)s AND hidden_at IS NULL
ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
)
# Admins see hidden comments too (the shared media page), each with its ``hidden`` flag.
LIST_ALL_COMMENTS = (
    b"SELECT "
    + COMMENT_COLUMNS
    + b""", hidden_at IS NOT NULL FROM comments
WHERE media_id = %(id)s
ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
)
COUNT_ALL_COMMENTS = b"SELECT count(*) FROM comments WHERE media_id = %(id)s"
# Hide/unhide and delete move comment_count in the same transaction, only when the row's
# visibility really changed (a second hide of a hidden comment changes nothing).
HIDE = (
    b"UPDATE comments SET hidden_at = now() WHERE id = %(cid)s AND hidden_at IS NULL RETURNING "
    + COMMENT_COLUMNS
)
UNHIDE = (
    b"UPDATE comments SET hidden_at = NULL WHERE id = %(cid)s AND hidden_at IS NOT NULL "
    b"RETURNING " + COMMENT_COLUMNS
)
GET_COMMENT = (
    b"SELECT " + COMMENT_COLUMNS + b", hidden_at IS NOT NULL FROM comments WHERE id = %(cid)s"
)
DELETE_COMMENT = b"""DELETE FROM comments WHERE id = %(cid)s
RETURNING media_id, hidden_at IS NULL"""
MOVE_COMMENTS = b"""UPDATE public_media SET comment_count = GREATEST(comment_count + %(d)s, 0)
WHERE id = %(id)s"""
COMMENT_NOT_FOUND = "Comment not found"
ADD_ROUTE = "POST /api/media/comments"


def comment_json(
    id_: int,
    media_id: int,
    user_id: int | None,
    author_name: str | None,
    body: str,
    video_timestamp: int | None,
    created_at: datetime,
    *,
    hidden: bool | None = None,
) -> dict[str, Any]:
    """One comment through its model: ``formattedTime`` when it marks a moment of the video,
    ``hidden`` only in moderation answers and admin lists."""
    comment = a.Comment(
        id=id_,
        mediaId=media_id,
        userId=user_id,
        authorName=author_name,
        content=body,
        videoTimestamp=video_timestamp,
        formattedTime=format_video_time(video_timestamp) if video_timestamp is not None else None,
        createdAt=iso(created_at),
        **({} if hidden is None else {"hidden": hidden}),
    )
    return comment.model_dump(exclude_unset=True)


def _comment_text(body: CommentBody) -> str:
    text = body.content if body.content is not None else body.body
    if text is None or not text.strip():
        raise ApiError.bad_request("content is required")
    return text.strip()


async def add_comment(request: Request, body: CommentBody, user: User | None) -> JSONResponse:
    media_id = body.media_id
    text = _comment_text(body)
    session = body.session_id
    if user is None and (session is None or not session.strip()):
        raise ApiError.bad_request("sessionId is required")
    author = body.author_name.strip() if body.author_name and body.author_name.strip() else None
    if author is None:
        author = f"User {user.id}" if user is not None else "Anonymous"
    timestamp = body.video_timestamp
    resources = resources_of(request)
    identity = user_identity(user.id) if user is not None else session_identity(str(session))
    address = client_address(request)
    await resources.guard.limit(ADD_ROUTE, "comment", address, identity)
    state = await resources.fetch_one(MEDIA_STATE, {"id": media_id})
    if state is None:
        raise ApiError.not_found("Media not found")
    if state[0]:
        raise ApiError.forbidden("Media is locked")
    duration = state[1] if state[1] is not None else MAX_UNKNOWN_DURATION_S
    if timestamp is not None and timestamp > duration:
        raise ApiError.bad_request(f"videoTimestamp must be within the video (0 to {duration} s)")
    await resources.guard.refuse_repeats(ADD_ROUTE, text, address, identity)
    params = {
        "id": media_id,
        "user": user.id if user is not None else None,
        "session": session,
        "author": author,
        "body": text,
        "ts": timestamp,
    }

    async def insert(conn: Conn) -> tuple[Any, ...] | None:
        row = await (await conn.execute(INSERT_COMMENT, params)).fetchone()
        if row is not None:
            await conn.execute(BUMP_COMMENTS, params)
        return row

    row = await resources.write(insert)
    resources.details.drop(media_id)
    if row is None:
        raise ApiError.forbidden("Media is locked")
    user_id = user.id if user is not None else None
    comment = comment_json(row[0], media_id, user_id, author, text, timestamp, row[1])
    return JSONResponse({"success": True, "comment": comment}, status_code=201)


async def list_comments(request: Request, query: CommentsQuery) -> JSONResponse:
    media_id, limit, offset = query.media_id, query.limit, query.offset
    everything = query.include_hidden == "true"
    if everything:  # hidden comments too: admins only
        require_admin(request)
    resources = resources_of(request)
    state = await resources.fetch_one(MEDIA_STATE, {"id": media_id})
    if state is None or (state[0] and not everything):
        raise ApiError.not_found("Media not found")
    params = {"id": media_id, "limit": limit, "offset": offset}
    if everything:
        rows = await resources.fetch_all(LIST_ALL_COMMENTS, params)
        counted = await resources.fetch_one(COUNT_ALL_COMMENTS, params)
        total = int(counted[0]) if counted else 0
        comments = [comment_json(*row[:7], hidden=bool(row[7])) for row in rows]
    else:
        rows = await resources.fetch_all(LIST_COMMENTS, params)
        total = int(state[2])
        comments = [comment_json(*row) for row in rows]
    return JSONResponse(
        {
            "comments": comments,
            "pagination": {
                "total": total,
                "limit": limit,
                "offset": offset,
                "hasMore": offset + len(rows) < total,
            },
        }
    )


async def moderate_comment(request: Request, path: IdPath, body: HiddenBody) -> JSONResponse:
    """Hide or show one comment (admin): ``{"hidden": true|false}`` → the comment."""
    comment_id, hidden = path.id, body.hidden
    resources = resources_of(request)
    params = {"cid": comment_id}

    async def flip(conn: Conn) -> tuple[Any, ...] | None:
        row = await (await conn.execute(HIDE if hidden else UNHIDE, params)).fetchone()
        if row is not None:
            await conn.execute(MOVE_COMMENTS, {"id": row[1], "d": -1 if hidden else 1})
        return row

    row = await resources.write(flip)
    if row is None:  # already in the state asked for, or no such comment
        current = await resources.fetch_one(GET_COMMENT, params)
        if current is None:
            raise ApiError.not_found(COMMENT_NOT_FOUND)
        row = current[:7]
    resources.details.drop(int(row[1]))
    return JSONResponse({"success": True, "comment": comment_json(*row, hidden=hidden)})


async def delete_comment(request: Request, path: IdPath) -> JSONResponse:
    """Delete one comment for good (admin) → ``{success, id}``."""
    comment_id = path.id
    resources = resources_of(request)

    async def delete(conn: Conn) -> tuple[Any, ...] | None:
        row = await (await conn.execute(DELETE_COMMENT, {"cid": comment_id})).fetchone()
        if row is not None and row[1]:  # it was visible: it leaves the counter too
            await conn.execute(MOVE_COMMENTS, {"id": row[0], "d": -1})
        return row

    row = await resources.write(delete)
    if row is None:
        raise ApiError.not_found(COMMENT_NOT_FOUND)
    resources.details.drop(int(row[0]))
    return JSONResponse({"success": True, "id": comment_id})


COMMENTS = "/api/media/comments"
ROUTES = [
    api(
        COMMENTS,
        add_comment,
        Endpoint(
            "Add a comment (auth optional; anonymous comments need a sessionId)",
            a.CommentAnswer,
            status=201,
            auth="optional",
            body=CommentBody,
            max_body=SMALL_BODY,
            links=(
                Link("hide", f"PATCH {COMMENTS}/{{id}}", {"id": "$response.body#/comment/id"}),
                Link("delete", f"DELETE {COMMENTS}/{{id}}", {"id": "$response.body#/comment/id"}),
            ),
        ),
        "POST",
    ),
    api(
        COMMENTS,
        list_comments,
        Endpoint("Comments of one media item, newest first", a.CommentPage, query=CommentsQuery),
    ),
    api(
        COMMENTS + "/{id}",
        moderate_comment,
        Endpoint(
            "Hide or show a comment (admin); hidden comments leave the list and commentCount",
            a.CommentAnswer,
            auth="admin",
            path=IdPath,
            body=HiddenBody,
            max_body=SMALL_BODY,
        ),
        "PATCH",
    ),
    api(
        COMMENTS + "/{id}",
        delete_comment,
        Endpoint("Delete a comment (admin)", a.Deleted, auth="admin", path=IdPath),
        "DELETE",
    ),
]
