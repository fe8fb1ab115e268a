"""Timestamped emoji reactions: add (user JWT), list (filter by media or user), config.

``mediaId`` is a public media id (the viewer page's id); a reaction must fall within the
video (``0 <= videoTimestamp <= durationSeconds``). Reactions on locked media are hidden.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.auth import User
from api_shim.bodies import ReactionBody
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.guard import client_address, user_identity
from api_shim.heatmap import MIN_REACTIONS, SEGMENTS, bin_counts, curve
from api_shim.queries import HeatmapQuery, ReactionsQuery
from api_shim.reactions import reaction_config, reaction_json
from api_shim.resources import resources_of

SMALL_BODY = 16 * 1024
MAX_UNKNOWN_DURATION_S = 24 * 3600

MEDIA_FOR_REACTION = (
    b"SELECT duration_seconds FROM public_media WHERE id = %(id)s AND NOT is_locked"
)
INSERT_REACTION = b"""INSERT INTO video_reactions
(user_id, media_id, reaction_type, video_timestamp)
SELECT %(user)s, id, %(type)s, %(ts)s FROM public_media WHERE id = %(id)s AND NOT is_locked
RETURNING id, created_at"""


async def add_reaction(request: Request, body: ReactionBody, user: User) -> JSONResponse:
    media_id, reaction_type, timestamp = body.media_id, body.reaction_type, body.video_timestamp
    resources = resources_of(request)
    await resources.guard.limit(
        "POST /api/reactions", "reaction", client_address(request), user_identity(user.id)
    )
    media = await resources.fetch_one(MEDIA_FOR_REACTION, {"id": media_id})
    if media is None:
        raise ApiError.not_found("Video not found")
    duration = media[0] if media[0] is not None else MAX_UNKNOWN_DURATION_S
    if timestamp > duration:
        raise ApiError.bad_request(f"videoTimestamp must be within the video (0 to {duration} s)")
    params = {"user": user.id, "id": media_id, "type": reaction_type, "ts": timestamp}
    row = await resources.fetch_one(INSERT_REACTION, params)
    if row is None:  # locked or removed between the two statements
        raise ApiError.not_found("Video not found")
    reaction = reaction_json(row[0], media_id, user.id, reaction_type, timestamp, row[1])
    return JSONResponse({"success": True, "reaction": reaction})


def _list_sql(by_media: bool, by_user: bool) -> bytes:
    clauses = ["NOT p.is_locked"]
    if by_media:
        clauses.append("r.media_id = %(media)s")
    if by_user:
        clauses.append("r.user_id = %(user)s")
    # One video's reactions come in timeline order (for the overlay); otherwise newest first.
    order = "r.video_timestamp, r.id" if by_media else "r.created_at DESC, r.id DESC"
    return (
        "SELECT r.id, r.media_id, r.user_id, r.reaction_type, r.video_timestamp, r.created_at "
        "FROM video_reactions r JOIN public_media p ON p.id = r.media_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"
    ).encode()


async def list_reactions(request: Request, query: ReactionsQuery) -> JSONResponse:
    media_id, user_id = query.media_id, query.user_id
    limit, offset = query.limit, query.offset
    params = {"media": media_id, "user": user_id, "limit": limit, "offset": offset}
    rows = await resources_of(request).fetch_all(
        _list_sql(media_id is not None, user_id is not None), params
    )
    return JSONResponse({"reactions": [reaction_json(*row) for row in rows]})


HEATMAP_COUNTS = b"""SELECT r.video_timestamp, count(*) FROM video_reactions r
JOIN public_media p ON p.id = r.media_id
WHERE r.media_id = %(media)s AND NOT p.is_locked GROUP BY r.video_timestamp"""


async def heatmap(request: Request, query: HeatmapQuery) -> JSONResponse:
    """``{segments, total, minReactions, curve}``: reactions per 1/100 of the video, 0..1."""
    media_id = query.media_id
    resources = resources_of(request)
    row = await resources.fetch_one(MEDIA_FOR_REACTION, {"id": media_id})
    if row is None:
        raise ApiError.not_found("Media not found")
    counts = [
        (int(t), int(n)) for t, n in await resources.fetch_all(HEATMAP_COUNTS, {"media": media_id})
    ]
    duration = float(row[0]) if row[0] else float(max((t for t, _ in counts), default=0) + 1)
    bins = bin_counts(counts, duration)
    return JSONResponse(
        {
            "segments": SEGMENTS,
            "total": sum(bins),
            "minReactions": MIN_REACTIONS,
            "curve": curve(bins),
        }
    )


async def get_config(_: Request) -> JSONResponse:
    return JSONResponse({"reactions": reaction_config()})


ROUTES = [
    api(
        "/api/reactions",
        add_reaction,
        Endpoint(
            "Add a timestamped reaction (user JWT)",
            a.ReactionAnswer,
            auth="user",
            body=ReactionBody,
            max_body=SMALL_BODY,
        ),
        "POST",
    ),
    api(
        "/api/reactions",
        list_reactions,
        Endpoint(
            "Reactions, by media (timeline order) or user (newest first)",
            a.Reactions,
            query=ReactionsQuery,
        ),
    ),
    api(
        "/api/reactions/config",
        get_config,
        Endpoint("Reaction types with emoji and label", a.ReactionConfig),
    ),
    api(
        "/api/reactions/heatmap",
        heatmap,
        Endpoint(
            "Reactions per 1/100 of the video, relative to the busiest segment",
            a.Heatmap,
            query=HeatmapQuery,
        ),
    ),
]
