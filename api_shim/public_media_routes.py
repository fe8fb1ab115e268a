"""The public gallery (no auth): list, get (+ a view), upvote and its removal, finish, watch time.

Locked media is invisible here: the list never shows it and a get answers 404. Writes on
locked media are refused with 403 ``Media is locked`` (the seed's error). Counters change
only by ``col = col + n`` in the same transaction as the row that justifies them (an upvote)
or through the view buffer; bad input is refused before any statement runs.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api_shim import answers as a
from api_shim.bodies import (
    SESSION_MAX,
    FinishBody,
    SessionBody,
    ViewBody,
    WatchTimeBody,
    read_body,
)
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.gallery import GalleryFilter, has_more, page_sql, search_count_sql
from api_shim.guard import UNPLAYED, client_address, session_identity
from api_shim.mediajson import MEDIA_DETAIL_JSON
from api_shim.queries import GalleryQuery, IdPath, MediaQuery, SessionQuery
from api_shim.resources import Conn, Resources, resources_of
from mediaq.jobparams import INT32_MAX
from mediaq.likes import contains_pattern
from mediaq.settings import Settings
from mediaq.viewbuffer import session_key

SMALL_BODY = 16 * 1024
MAX_WATCH_S = 24 * 3600  # bound for a video whose duration is unknown

CLOCK_SLACK_S = 1.0  # a player's report may arrive this much before the server's clock agrees
UPVOTE_ROUTE = "POST /api/media/public/{id}/upvote"
UNVOTE_ROUTE = "DELETE /api/media/public/{id}/upvote"
FINISH_ROUTE = "POST /api/media/public/{id}/finish"
WATCH_ROUTE = "POST /api/media/public/{id}/watch-time"
VIEW_ROUTE = "POST /api/media/public/{id}/view"

MEDIA_NOT_FOUND = "Media not found"
MEDIA_LOCKED = "Media is locked"

GET_MEDIA = (
    f"SELECT {MEDIA_DETAIL_JSON}::text FROM public_media WHERE id = %(id)s AND NOT is_locked"
).encode()
MEDIA_STATE = b"SELECT is_locked, upvote_count, finish_count, total_watch_time, duration_seconds \
FROM public_media WHERE id = %(id)s"
INSERT_UPVOTE = b"""INSERT INTO upvotes (media_id, session_id)
SELECT id, %(session)s FROM public_media WHERE id = %(id)s AND NOT is_locked
ON CONFLICT ON CONSTRAINT idx_upvotes_unique DO NOTHING RETURNING id"""
DELETE_UPVOTE = b"""DELETE FROM upvotes u USING public_media p
WHERE u.media_id = %(id)s AND u.session_id = %(session)s AND p.id = u.media_id
AND NOT p.is_locked RETURNING u.id"""
BUMP_UPVOTES = b"UPDATE public_media SET upvote_count = GREATEST(upvote_count + %(d)s, 0) \
WHERE id = %(id)s RETURNING upvote_count"
BUMP_FINISH = b"UPDATE public_media SET finish_count = LEAST(finish_count::bigint + 1, 2147483647) \
WHERE id = %(id)s AND NOT is_locked RETURNING finish_count"
BUMP_WATCH = b"UPDATE public_media \
SET total_watch_time = LEAST(total_watch_time::bigint + %(s)s, 2147483647) \
WHERE id = %(id)s AND NOT is_locked RETURNING total_watch_time"

# KEYS: the session's watch counter. ARGV: seconds asked, cap, window. Returns seconds granted.
WATCH_CAP_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant <= 0 then return 0 end
local ttl = redis.call('TTL', KEYS[1])
redis.call('INCRBY', KEYS[1], grant)
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return grant
"""


def gallery_filter(query: GalleryQuery) -> GalleryFilter:
    return GalleryFilter(
        category=query.category,
        orientation=query.orientation,
        search=contains_pattern(query.search) if query.search is not None else None,
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
    )


async def _search_total(resources: Resources, f: GalleryFilter) -> int:
    cached = resources.search_totals.get(f.total_key())
    if cached is not None:
        return cached
    row = await resources.fetch_one(search_count_sql(f), f.params())
    total = int(row[0]) if row else 0
    resources.search_totals.put(f.total_key(), total)
    return total


async def list_media(request: Request, query: GalleryQuery) -> Response:
    f = gallery_filter(query)
    resources = resources_of(request)
    row = await resources.fetch_one(page_sql(f), {**f.params(), **resources.files.sql_params()})
    assert row is not None
    total, page, returned = row
    if total is None:
        total = await _search_total(resources, f)
    tail = (
        f',"pagination":{{"total":{int(total)},"limit":{f.limit},"offset":{f.offset},'
        f'"hasMore":{"true" if has_more(f.offset, returned, int(total)) else "false"}}}}}'
    )
    return Response('{"videos":' + page + tail, media_type="application/json")


def viewer_session(request: Request, raw: str | None) -> str:
    """Who is viewing: ``sessionId`` (query) or ``X-Session-Id``, else client address + agent."""
    if raw is None:
        header = request.headers.get("x-session-id")
        if header:
            if len(header) > SESSION_MAX:
                raise ApiError.bad_request(f"X-Session-Id must be at most {SESSION_MAX} characters")
            raw = header
    if raw is not None:
        return session_key("s:" + raw)
    host = request.client.host if request.client else ""
    return session_key(f"a:{host}:{request.headers.get('user-agent', '')}")


async def get_media(request: Request, path: IdPath, query: MediaQuery) -> Response:
    media_id = path.id
    session = viewer_session(request, query.session_id)
    counting = query.count_view != "false"  # false: the page counts its view on play instead
    resources = resources_of(request)

    async def fetch() -> str | None:
        params = {"id": media_id, **resources.files.sql_params()}
        row = await resources.fetch_one(GET_MEDIA, params)
        return None if row is None else str(row[0])

    text = await resources.details.load(media_id, fetch)
    if text is None:
        raise ApiError.not_found(MEDIA_NOT_FOUND)
    if counting:  # buffered: the response does not wait
        resources.views.record(media_id, session, client_address(request))
    return Response(text, media_type="application/json")


async def _media_state(resources: Resources, media_id: int) -> tuple[Any, ...]:
    """(is_locked, upvote_count, finish_count, total_watch_time, duration) or 404."""
    row = await resources.fetch_one(MEDIA_STATE, {"id": media_id})
    if row is None:
        raise ApiError.not_found(MEDIA_NOT_FOUND)
    return row


def _refuse_locked(state: tuple[Any, ...]) -> None:
    if state[0]:
        raise ApiError.forbidden(MEDIA_LOCKED)


async def _vote(conn: Conn, change: bytes, params: dict[str, Any]) -> int | None:
    """Add or remove this session's upvote row; the new count when it changed, else None."""
    changed = await (await conn.execute(change, params)).fetchone()
    if changed is None:
        return None
    row = await (await conn.execute(BUMP_UPVOTES, params)).fetchone()
    assert row is not None
    return int(row[0])


async def upvote(request: Request, path: IdPath, body: SessionBody) -> JSONResponse:
    """One upvote per session: the unique constraint decides, the counter moves with the row."""
    media_id, session = path.id, body.session_id
    resources = resources_of(request)
    address, identity = client_address(request), session_identity(str(session))
    await resources.guard.limit(UPVOTE_ROUTE, "vote", address, identity)
    await resources.guard.admit_session(UPVOTE_ROUTE, address, identity)
    params = {"id": media_id, "session": session, "d": 1}
    count = await resources.write(lambda conn: _vote(conn, INSERT_UPVOTE, params))
    resources.details.drop(media_id)  # this process shows the new count at once
    if count is None:
        state = await _media_state(resources, media_id)
        _refuse_locked(state)
        count = int(state[1])
    return JSONResponse({"success": True, "upvoted": True, "upvoteCount": count})


async def remove_upvote(request: Request, path: IdPath, query: SessionQuery) -> JSONResponse:
    """Remove this session's upvote (``sessionId`` in the query, or in a JSON body)."""
    media_id, session = path.id, query.session_id
    if session is None:
        session = (await read_body(request, FinishBody, SMALL_BODY)).session_id
    if session is None or not session.strip():
        raise ApiError.bad_request("sessionId is required")
    resources = resources_of(request)
    await resources.guard.limit(
        UNVOTE_ROUTE, "vote", client_address(request), session_identity(session)
    )
    params = {"id": media_id, "session": session, "d": -1}
    count = await resources.write(lambda conn: _vote(conn, DELETE_UPVOTE, params))
    resources.details.drop(media_id)
    if count is None:
        state = await _media_state(resources, media_id)
        _refuse_locked(state)
        count = int(state[1])
    return JSONResponse({"success": True, "upvoted": False, "upvoteCount": count})


def _optional_session(session: str | None) -> str | None:
    return session if session and session.strip() else None


async def finish(request: Request, path: IdPath, body: FinishBody) -> JSONResponse:
    """Count a finished playback; with a ``sessionId``, once per session per view window."""
    media_id = path.id
    session = _optional_session(body.session_id)
    resources = resources_of(request)
    await resources.guard.limit(
        FINISH_ROUTE,
        "play",
        client_address(request),
        session_identity(session) if session is not None else None,
    )
    state = await _media_state(resources, media_id)
    _refuse_locked(state)
    if session is not None:
        key = f"{resources.buffer.prefix}:finish:{media_id}:{session_key(session)}"
        first = await resources.redis.set(key, 1, nx=True, ex=resources.buffer.window_s)
        if not first:
            return JSONResponse({"success": True, "counted": False, "finishCount": state[2]})
    row = await resources.fetch_one(BUMP_FINISH, {"id": media_id})
    resources.details.drop(media_id)
    if row is None:  # locked or deleted since the check
        raise ApiError.forbidden(MEDIA_LOCKED)
    return JSONResponse({"success": True, "counted": True, "finishCount": int(row[0])})


async def watch_time(request: Request, path: IdPath, body: WatchTimeBody) -> JSONResponse:
    """Add watch time, never more than the video lasts (per request and per session window)."""
    media_id = path.id
    given = body.seconds if body.seconds is not None else body.watch_time
    seconds = min(int(given or 0), INT32_MAX)
    session = _optional_session(body.session_id)
    resources = resources_of(request)
    await resources.guard.limit(
        WATCH_ROUTE,
        "play",
        client_address(request),
        session_identity(session) if session is not None else None,
    )
    state = await _media_state(resources, media_id)
    _refuse_locked(state)
    cap = int(state[4]) if state[4] is not None and state[4] > 0 else MAX_WATCH_S
    if seconds > cap:
        raise ApiError.bad_request(f"seconds must not exceed the video's duration ({cap} s)")
    if session is not None:
        key = f"{resources.buffer.prefix}:watch:{media_id}:{session_key(session)}"
        script = resources.redis.register_script(WATCH_CAP_LUA)
        seconds = int(await script(keys=[key], args=[seconds, cap, resources.buffer.window_s]))
    if seconds == 0:
        return JSONResponse({"success": True, "recorded": 0, "totalWatchTime": state[3]})
    row = await resources.fetch_one(BUMP_WATCH, {"id": media_id, "s": seconds})
    resources.details.drop(media_id)
    if row is None:
        raise ApiError.forbidden(MEDIA_LOCKED)
    return JSONResponse({"success": True, "recorded": seconds, "totalWatchTime": int(row[0])})


async def report_view(request: Request, path: IdPath, body: ViewBody) -> JSONResponse:
    """The player's view: counted once it has played ``view_min_play_s`` (or the whole clip).

    The player reports when playback starts (``playedSeconds: 0``) and again once it has
    played long enough. The server keeps its own clock from the first report of the session:
    a report that claims enough play before that much time has passed is not counted. A
    counted view goes through the same buffer, session bound and once-per-window rule as
    ``GET /api/media/public/{id}``.
    """
    media_id = path.id
    session, played = body.session_id, body.played_seconds
    resources = resources_of(request)
    address, identity = client_address(request), session_identity(str(session))
    await resources.guard.limit(VIEW_ROUTE, "view", address, identity)
    state = await _media_state(resources, media_id)
    _refuse_locked(state)
    settings: Settings = request.app.state.settings
    duration = int(state[4]) if state[4] is not None and state[4] > 0 else None
    need = settings.view_min_play_s if duration is None else min(settings.view_min_play_s, duration)
    now = time.time()
    key = f"{resources.buffer.prefix}:views:play:{media_id}:{identity}"
    started = await resources.redis.set(key, now, nx=True, ex=resources.buffer.window_s, get=True)
    elapsed = 0.0 if started is None else now - float(started)
    if played < need or elapsed + CLOCK_SLACK_S < need:
        if played >= need:  # claims more play than the server has seen time pass
            await resources.guard.count_refusal(VIEW_ROUTE, UNPLAYED)
        return JSONResponse({"success": True, "counted": False, "minPlaySeconds": need})
    counted, _ = await resources.views.count_now(media_id, identity, address, VIEW_ROUTE)
    return JSONResponse({"success": True, "counted": counted, "minPlaySeconds": need})


MEDIA = "/api/media/public/{id}"
ROUTES = [
    api(
        "/api/media/public",
        list_media,
        Endpoint(
            "List unlocked public media (paginated, filterable, sorted)",
            a.GalleryPage,
            query=GalleryQuery,
        ),
    ),
    api(
        MEDIA,
        get_media,
        Endpoint(
            "One media item; counts a view (once per session per window, not waited for)",
            a.Media,
            path=IdPath,
            query=MediaQuery,
        ),
    ),
    api(
        MEDIA + "/upvote",
        upvote,
        Endpoint(
            "Upvote (one per session)",
            a.UpvoteAnswer,
            path=IdPath,
            body=SessionBody,
            max_body=SMALL_BODY,
        ),
        "POST",
    ),
    api(
        MEDIA + "/upvote",
        remove_upvote,
        Endpoint(
            "Remove this session's upvote (sessionId in the query, or a JSON body)",
            a.UpvoteAnswer,
            path=IdPath,
            query=SessionQuery,
        ),
        "DELETE",
    ),
    api(
        MEDIA + "/finish",
        finish,
        Endpoint(
            "Count a finished playback (once per session per window with a sessionId)",
            a.FinishAnswer,
            path=IdPath,
            body=FinishBody,
            body_required=False,
            max_body=SMALL_BODY,
        ),
        "POST",
    ),
    api(
        MEDIA + "/watch-time",
        watch_time,
        Endpoint(
            "Add watch time in seconds (bounded by the video's duration)",
            a.WatchAnswer,
            path=IdPath,
            body=WatchTimeBody,
            max_body=SMALL_BODY,
        ),
        "POST",
    ),
    api(
        MEDIA + "/view",
        report_view,
        Endpoint(
            "The player's view report: counted once the video has played long enough "
            "(once per session per window; 429 past the rate limits)",
            a.ViewAnswer,
            path=IdPath,
            body=ViewBody,
            max_body=SMALL_BODY,
        ),
        "POST",
    ),
]
