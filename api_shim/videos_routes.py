"""The admin video library: list (search, pagination), get one, and the health check."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api_shim import answers as a
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.mediajson import JsonShape, NInt, NStr, Time, iso_sql
from api_shim.queries import IdPath, VideosQuery
from api_shim.resources import resources_of
from mediaq.likes import contains_pattern

# The seed's list item: exactly these 9 keys.
VIDEO_ITEM = JsonShape(
    "VideoItem",
    (
        ("id", "id", int),
        ("title", "title", NStr),
        ("filename", "filename", str),
        ("duration", "duration_seconds", NInt),
        ("fileSize", "file_size", NInt),
        ("width", "width", NInt),
        ("height", "height", NInt),
        ("createdAt", iso_sql("created_at"), Time),
        ("updatedAt", iso_sql("updated_at"), Time),
    ),
)
VIDEO_LIST_JSON = VIDEO_ITEM.sql

# One video: the list keys plus every other column of the library, camelCase.
VIDEO_DETAIL = VIDEO_ITEM.extended(
    "Video",
    ("path", "path", str),
    ("producer", "producer", NStr),
    ("creator", "creator", NStr),
    ("durationSeconds", "duration_seconds", NInt),
    ("quality", "quality", NStr),
    ("orientation", "orientation", NStr),
    ("hasAudio", "has_audio", bool | None),
    ("fileHash", "file_hash", NStr),
    ("isValid", "is_valid", bool | None),
    ("lastValidated", iso_sql("last_validated"), Time),
    ("thumbnailPath", "thumbnail_path", NStr),
    ("tags", "tags", Any),
    ("directoryType", "directory_type", NStr),
    ("publicViewCount", "public_view_count", NInt),
    ("publicUpvoteCount", "public_upvote_count", NInt),
    ("publicCommentCount", "public_comment_count", NInt),
    ("publicCompletionCount", "public_completion_count", NInt),
    ("publicTotalWatchTime", "public_total_watch_time", NInt),
    ("movedFromPublicAt", iso_sql("moved_from_public_at"), Time),
    ("originalFilename", "original_filename", NStr),
    ("originalPath", "original_path", NStr),
    ("standardizedAt", iso_sql("standardized_at"), Time),
)
VIDEO_DETAIL_JSON = VIDEO_DETAIL.sql

GET_VIDEO = f"SELECT {VIDEO_DETAIL_JSON}::text FROM videos WHERE id = %(id)s".encode()


def _where(search: bool, directory: bool) -> str:
    clauses = ["true"]
    if search:
        clauses.append(
            r"(title ILIKE %(pattern)s ESCAPE '\' OR filename ILIKE %(pattern)s ESCAPE '\')"
        )
    if directory:
        clauses.append("directory_type = %(directory)s")
    return " AND ".join(clauses)


def list_sql(search: bool, directory: bool) -> bytes:
    """Page JSON and total of the library list, in one statement."""
    where = _where(search, directory)
    return (
        f"SELECT (SELECT count(*) FROM videos WHERE {where}), "
        "coalesce((SELECT json_agg(page.j) FROM ("
        f"SELECT {VIDEO_LIST_JSON} AS j FROM videos WHERE {where} "
        "ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s) AS page), '[]'::json)::text"
    ).encode()


async def list_videos(request: Request, query: VideosQuery) -> Response:
    search, directory = query.search, query.directory_type
    limit, offset = query.limit, query.offset
    params = {
        "pattern": contains_pattern(search) if search is not None else None,
        "directory": directory,
        "limit": limit,
        "offset": offset,
    }
    sql = list_sql(search is not None, directory is not None)
    row = await resources_of(request).fetch_one(sql, params)
    assert row is not None
    total, page = row
    tail = json.dumps({"total": int(total), "limit": limit, "offset": offset})[1:]
    return Response('{"videos":' + page + "," + tail, media_type="application/json")


async def get_video(request: Request, path: IdPath) -> Response:
    row = await resources_of(request).fetch_one(GET_VIDEO, {"id": path.id})
    if row is None:
        raise ApiError.not_found("Video not found")
    return Response(row[0], media_type="application/json")


async def health(request: Request) -> JSONResponse:
    """Liveness of the API and its two services (no auth, as in the seed)."""
    resources = resources_of(request)
    report = {"status": "ok", "database": "ok", "redis": "ok"}
    try:
        await resources.fetch_one(b"SELECT 1", {})
    except Exception:  # any failure means "down"; details stay in the server log
        report["database"] = "down"
    try:
        await resources.redis.ping()
    except Exception:
        report["redis"] = "down"
    healthy = report["database"] == "ok" and report["redis"] == "ok"
    if not healthy:
        report["status"] = "degraded"
    return JSONResponse(report, status_code=200 if healthy else 503)


VideoItem: Any = VIDEO_ITEM.model


class VideoPage(a.Answer):
    videos: list[VideoItem]
    total: int
    limit: int
    offset: int


ROUTES = [
    api(
        "/api/videos",
        list_videos,
        Endpoint("List library videos (admin)", VideoPage, auth="admin", query=VideosQuery),
    ),
    api(
        "/api/videos/health",
        health,
        Endpoint(
            "Health of the API, PostgreSQL and Redis (503 when one is down)",
            a.ServiceHealth,
            also={503: a.ServiceHealth},
        ),
    ),
    api(
        "/api/videos/{id}",
        get_video,
        Endpoint("One library video (admin)", VIDEO_DETAIL.model, auth="admin", path=IdPath),
    ),
]
