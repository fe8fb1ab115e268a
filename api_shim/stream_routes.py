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
from starlette.routing import Route

from api_shim.errors import ApiError
from api_shim.params import path_id
from api_shim.public_media_routes import MEDIA_NOT_FOUND
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


async def _stored_path(request: Request, which: str) -> str:
    media_id = path_id(request)
    row = await resources_of(request).fetch_one(FILE_OF[which], {"id": media_id})
    if row is None:
        raise ApiError(404, MEDIA_NOT_FOUND)
    if row[0] is None:
        raise ApiError(404, NO_FILE[which])
    return str(row[0])


async def _serve(request: Request, which: str) -> Response:
    path = await _stored_path(request, which)
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


async def storyboard_sheet(request: Request) -> Response:
    track = await _stored_path(request, "storyboard")
    sheet = sheet_path(track, str(request.path_params["name"]))
    if sheet is None:
        raise ApiError(404, "File not found")
    return resources_of(request).files.response(request.headers, request.method, sheet)


async def storyboard(request: Request) -> Response:
    return await _serve(request, "storyboard")


async def stream(request: Request) -> Response:
    return await _serve(request, "stream")


async def thumbnail(request: Request) -> Response:
    return await _serve(request, "thumbnail")


ROUTES = [
    Route("/api/media/public/{id}/stream", stream, methods=["GET", "HEAD"]),
    Route("/api/media/public/{id}/thumbnail", thumbnail, methods=["GET", "HEAD"]),
    Route("/api/media/public/{id}/storyboard.vtt", storyboard, methods=["GET", "HEAD"]),
    Route("/api/media/public/{id}/storyboard/{name}", storyboard_sheet, methods=["GET", "HEAD"]),
]
