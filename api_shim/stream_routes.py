"""The bytes of the gallery: a public item's video and thumbnail, by media id (no auth).

``GET``/``HEAD`` ``/api/media/public/{id}/stream`` and ``.../thumbnail`` answer exactly like
the item's JSON: 404 ``Media not found`` for an unknown or locked id, checked on every
request, so locking takes effect at once. The file itself is opened through
``LibraryFiles``: outside the public roots, missing, or not a regular file is 404
``File not found``. Range, ETag and the conditionals are ``byteranges``' decisions.
"""

from __future__ import annotations

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
}


async def _serve(request: Request, which: str) -> Response:
    media_id = path_id(request)
    resources = resources_of(request)
    row = await resources.fetch_one(FILE_OF[which], {"id": media_id})
    if row is None:
        raise ApiError(404, MEDIA_NOT_FOUND)
    if row[0] is None:
        raise ApiError(404, "This media has no thumbnail")
    return resources.files.response(request.headers, request.method, str(row[0]))


async def stream(request: Request) -> Response:
    return await _serve(request, "stream")


async def thumbnail(request: Request) -> Response:
    return await _serve(request, "thumbnail")


ROUTES = [
    Route("/api/media/public/{id}/stream", stream, methods=["GET", "HEAD"]),
    Route("/api/media/public/{id}/thumbnail", thumbnail, methods=["GET", "HEAD"]),
]
