"""``PATCH /api/admin/media/{id}`` (admin JWT): move a public item to another category.

The gallery totals follow by the ``public_media`` triggers (migration 0002), in the same
transaction; the item's cached detail is dropped so the change shows at once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_shim.auth import require_admin
from api_shim.errors import ApiError
from api_shim.mediajson import ADMIN_MEDIA_JSON
from api_shim.params import body_str, json_body, path_id
from api_shim.resources import resources_of

MAX_CATEGORY = 100

SET_CATEGORY = (
    "UPDATE public_media SET category = %(category)s, updated_at = now() "
    f"WHERE id = %(id)s RETURNING {ADMIN_MEDIA_JSON}::text"
).encode()


async def update_media(request: Request) -> Response:
    require_admin(request)
    media_id = path_id(request)
    body = await json_body(request)
    unknown = sorted(set(body) - {"category"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; only category can be changed here")
    category = body_str(body, "category", required=True, max_length=MAX_CATEGORY)
    assert category is not None
    resources = resources_of(request)
    params = {"id": media_id, "category": category.strip()}
    params.update(resources.files.sql_params())
    async with resources.pool.connection() as conn, conn.transaction():
        cursor = await conn.execute(SET_CATEGORY, params)
        row = await cursor.fetchone()
    if row is None:
        raise ApiError(404, "Media not found")
    resources.details.drop(media_id)
    return Response('{"success":true,"media":' + row[0] + "}", media_type="application/json")


ROUTES = [Route("/api/admin/media/{id:int}", update_media, methods=["PATCH"])]
