"""The bytes of the gallery: a public item's video, thumbnail and seek previews (no auth).

``GET``/``HEAD`` ``/api/media/public/{id}/stream`` and ``.../thumbnail`` answer exactly like
the item's JSON: 404 ``Media not found`` for an unknown or locked id, checked on every
request, so locking takes effect at once. The file itself is opened through
``LibraryFiles``: outside the public roots, missing, or not a regular file is 404
``File not found``. Range, ETag and the conditionals are ``byteranges``' decisions. A
storyboard sheet is named by the URL; it must resolve to a file directly inside the folder
of the item's own track, or it is 404.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response

from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.public_media_routes import MEDIA, MEDIA_NOT_FOUND
from api_shim.queries import IdPath, SheetPath
from api_shim.resources import resources_of

FILE_OF = {
    "stream": b"SELECT path FROM public_media WHERE id = %(id)s AND NOT is_locked",
    "thumbnail": b"SELECT thumbnail_path FROM public_media WHERE id = %(id)s AND NOT is_locked",
    "storyboard": b"SELECT storyboard_path FROM public_media WHERE id = %(id)s AND NOT is_locked",
}
NO_FILE = {
    "thumbnail": "This media has no thumbnail",
    "storyboard": "This media has no storyboard yet",
}


async def _stored_path(request: Request, media_id: int, which: str) -> str:
    row = await resources_of(request).fetch_one(FILE_OF[which], {"id": media_id})
    if row is None:
        raise ApiError.not_found(MEDIA_NOT_FOUND)
    if row[0] is None:
        raise ApiError.not_found(NO_FILE[which])
    return str(row[0])


async def _serve(request: Request, media_id: int, which: str) -> Response:
    path = await _stored_path(request, media_id, which)
    return resources_of(request).files.response(request.headers, request.method, path)


def sheet_path(track: str, name: str) -> str | None:
    """The file ``name`` beside ``track``, or None if it would be anywhere else."""
    if not name or "\x00" in name or "/" in name or name in (".", ".."):
        return None
    folder = os.path.realpath(os.path.dirname(track))
    candidate = os.path.join(folder, name)
    if os.path.dirname(os.path.realpath(candidate)) != folder:
        return None
    return candidate


async def storyboard_sheet(request: Request, path: SheetPath) -> Response:
    track = await _stored_path(request, path.id, "storyboard")
    sheet = sheet_path(track, path.name)
    if sheet is None:
        raise ApiError.not_found("File not found")
    return resources_of(request).files.response(request.headers, request.method, sheet)


async def storyboard(request: Request, path: IdPath) -> Response:
    return await _serve(request, path.id, "storyboard")


async def stream(request: Request, path: IdPath) -> Response:
    return await _serve(request, path.id, "stream")


async def thumbnail(request: Request, path: IdPath) -> Response:
    return await _serve(request, path.id, "thumbnail")


def _file(summary: str, media_type: str, model: type = IdPath) -> Endpoint:
    return Endpoint(summary, path=model, files=media_type)


ROUTES = [
    api(
        MEDIA + "/stream",
        stream,
        _file("The item's video, with HTTP Range (404 when locked)", "video/*"),
        "GET",
        "HEAD",
    ),
    api(
        MEDIA + "/thumbnail",
        thumbnail,
        _file("The item's thumbnail (404 when locked or none)", "image/*"),
        "GET",
        "HEAD",
    ),
    api(
        MEDIA + "/storyboard.vtt",
        storyboard,
        _file("The item's seek-preview track (WebVTT thumbnails)", "text/vtt"),
        "GET",
        "HEAD",
    ),
    api(
        MEDIA + "/storyboard/{name}",
        storyboard_sheet,
        _file("One sprite sheet of the seek previews", "image/jpeg", SheetPath),
        "GET",
        "HEAD",
    ),
]
