"""The admin video library: list (search, pagination), get one, and the health check."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api_shim.auth import require_admin
from api_shim.errors import ApiError
from api_shim.mediajson import iso_sql, json_object_sql
from api_shim.params import like_pattern, path_id, query_choice, query_int, query_str
from api_shim.resources import resources_of
from mediaq.models import DIRECTORY_TYPES

# The seed's list item: exactly these 9 keys.
VIDEO_LIST_FIELDS = [
    ("id", "id"),
    ("title", "title"),
    ("filename", "filename"),
    ("duration", "duration_seconds"),
    ("fileSize", "file_size"),
    ("width", "width"),
    ("height", "height"),
    ("createdAt", iso_sql("created_at")),
    ("updatedAt", iso_sql("updated_at")),
]
VIDEO_LIST_JSON = json_object_sql(VIDEO_LIST_FIELDS)

# One video: the list keys plus every other column of the library, camelCase.
VIDEO_DETAIL_JSON = json_object_sql(
    [
        *VIDEO_LIST_FIELDS,
        ("path", "path"),
        ("producer", "producer"),
        ("creator", "creator"),
        ("durationSeconds", "duration_seconds"),
        ("quality", "quality"),
        ("orientation", "orientation"),
        ("hasAudio", "has_audio"),
        ("fileHash", "file_hash"),
        ("isValid", "is_valid"),
        ("lastValidated", iso_sql("last_validated")),
        ("thumbnailPath", "thumbnail_path"),
        ("tags", "tags"),
        ("directoryType", "directory_type"),
        ("publicViewCount", "public_view_count"),
        ("publicUpvoteCount", "public_upvote_count"),
        ("publicCommentCount", "public_comment_count"),
        ("publicCompletionCount", "public_completion_count"),
        ("publicTotalWatchTime", "public_total_watch_time"),
        ("movedFromPublicAt", iso_sql("moved_from_public_at")),
        ("originalFilename", "original_filename"),
        ("originalPath", "original_path"),
        ("standardizedAt", iso_sql("standardized_at")),
    ]
)

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


async def list_videos(request: Request) -> Response:
    require_admin(request)
    search = query_str(request, "search", 200)
    directory = query_choice(request, "directoryType", DIRECTORY_TYPES, None)
    limit = query_int(request, "limit", 50, 1, cap=100)
    offset = query_int(request, "offset", 0, 0)
    params = {
        "pattern": like_pattern(search) if search is not None else None,
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


async def get_video(request: Request) -> Response:
    require_admin(request)
    video_id = path_id(request)
    row = await resources_of(request).fetch_one(GET_VIDEO, {"id": video_id})
    if row is None:
        raise ApiError(404, "Video not found")
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


ROUTES = [
    Route("/api/videos", list_videos, methods=["GET"]),
    Route("/api/videos/health", health, methods=["GET"]),
    Route("/api/videos/{id}", get_video, methods=["GET"]),
]
