"""The admin library page's reads (admin JWT): videos with their public items, thumbnails.

``GET /api/admin/library`` lists videos (filter by directory type, search by file name) with
the ids and lock state of their public items, so the page can lock or unlock them through
``/api/admin/media/lock``/``unlock`` and enqueue jobs for them through ``POST /api/jobs``.
``GET /api/admin/videos/{id}/thumbnail`` serves a video's thumbnail from the thumbnail root.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api_shim import answers as a
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.mediajson import JsonShape, NInt, NStr
from api_shim.queries import IdPath, LibraryQuery
from api_shim.resources import resources_of
from mediaq.likes import contains_pattern

LIBRARY_MEDIA = JsonShape(
    "LibraryMediaRef",
    (
        ("id", "p.id", int),
        ("isLocked", "p.is_locked", bool),
        ("lockedReason", "p.locked_reason", NStr),
    ),
)
LIBRARY_VIDEO = JsonShape(
    "LibraryVideo",
    (
        ("id", "v.id", int),
        ("filename", "v.filename", str),
        ("title", "v.title", NStr),
        ("directoryType", "v.directory_type", NStr),
        ("durationSeconds", "v.duration_seconds", NInt),
        ("width", "v.width", NInt),
        ("height", "v.height", NInt),
        ("hasThumbnail", "v.thumbnail_path IS NOT NULL", bool),
        (
            "publicMedia",
            f"coalesce((SELECT json_agg({LIBRARY_MEDIA.sql} ORDER BY p.id) "
            "FROM public_media p WHERE p.video_id = v.id), '[]'::json)",
            list[LIBRARY_MEDIA.model],  # type: ignore[name-defined]
        ),
    ),
)
LIBRARY_ITEM = LIBRARY_VIDEO.sql
LibraryVideo: Any = LIBRARY_VIDEO.model


class LibraryPage(a.Answer):
    videos: list[LibraryVideo]
    total: int
    limit: int
    offset: int


def _sql(search: bool, directory: bool) -> bytes:
    where = ["true"]
    if search:
        where.append("v.filename ILIKE %(pattern)s")
    if directory:
        where.append("v.directory_type = %(directory)s")
    clause = " AND ".join(where)
    return (
        f"SELECT (SELECT count(*) FROM videos v WHERE {clause}), "
        f"coalesce((SELECT json_agg(page.j) FROM (SELECT {LIBRARY_ITEM} AS j FROM videos v "
        f"WHERE {clause} ORDER BY v.id DESC LIMIT %(limit)s OFFSET %(offset)s) AS page), "
        "'[]'::json)::text"
    ).encode()


async def library(request: Request, query: LibraryQuery) -> Response:
    search, directory = query.search, query.directory_type
    limit, offset = query.limit, query.offset
    params = {
        "pattern": contains_pattern(search) if search else None,
        "directory": directory,
        "limit": limit,
        "offset": offset,
    }
    row = await resources_of(request).fetch_one(_sql(bool(search), directory is not None), params)
    assert row is not None
    tail = json.dumps({"total": int(row[0]), "limit": limit, "offset": offset})[1:]
    return Response('{"videos":' + row[1] + "," + tail, media_type="application/json")


async def video_thumbnail(request: Request, path: IdPath) -> Response:
    video_id = path.id
    resources = resources_of(request)
    row = await resources.fetch_one(
        b"SELECT thumbnail_path FROM videos WHERE id = %(id)s", {"id": video_id}
    )
    if row is None:
        raise ApiError.not_found("Video not found")
    if row[0] is None:
        raise ApiError.not_found("This video has no thumbnail")
    return resources.files.response(request.headers, request.method, str(row[0]))


ROUTES = [
    api(
        "/api/admin/library",
        library,
        Endpoint(
            "Library videos with their public items (admin)",
            LibraryPage,
            auth="admin",
            query=LibraryQuery,
        ),
    ),
    api(
        "/api/admin/videos/{id}/thumbnail",
        video_thumbnail,
        Endpoint("A library video's thumbnail (admin)", auth="admin", path=IdPath, files="image/*"),
        "GET",
        "HEAD",
    ),
]
