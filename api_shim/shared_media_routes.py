"""``PATCH /api/admin/media/{id}`` (admin JWT): move a public item to another category.

The gallery totals follow by the ``public_media`` triggers (migration 0002), in the same
transaction; the item's cached detail is dropped so the change shows at once.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api_shim import answers as a
from api_shim.bodies import CategoryBody
from api_shim.endpoints import Endpoint, api
from api_shim.errors import ApiError
from api_shim.mediajson import ADMIN_MEDIA_JSON
from api_shim.queries import IdPath
from api_shim.resources import Conn, resources_of

SET_CATEGORY = (
    "UPDATE public_media SET category = %(category)s, updated_at = now() "
    f"WHERE id = %(id)s RETURNING {ADMIN_MEDIA_JSON}::text"
).encode()


async def update_media(request: Request, path: IdPath, body: CategoryBody) -> Response:
    media_id = path.id
    resources = resources_of(request)
    params = {"id": media_id, "category": body.category.strip()}
    params.update(resources.files.sql_params())

    async def change(conn: Conn) -> tuple[Any, ...] | None:
        return await (await conn.execute(SET_CATEGORY, params)).fetchone()

    row = await resources.write(change)
    if row is None:
        raise ApiError.not_found("Media not found")
    resources.details.drop(media_id)
    return Response('{"success":true,"media":' + row[0] + "}", media_type="application/json")


ROUTES = [
    api(
        "/api/admin/media/{id:int}",
        update_media,
        Endpoint(
            "Move a public item to another category (admin)",
            a.AdminMediaAnswer,
            auth="admin",
            path=IdPath,
            body=CategoryBody,
        ),
        "PATCH",
    )
]
