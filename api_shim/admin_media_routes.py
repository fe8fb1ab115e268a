"""Admin control of the public gallery (admin JWT): list with locked media, bulk lock/unlock.

Locking hides media from every public endpoint at once (the gallery indexes and the counts
table only cover unlocked rows; the triggers move the totals in the same transaction). Rows
are locked in id order, the order every other multi-row writer uses, so a bulk lock never
deadlocks with a view flush.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api_shim import answers as a
from api_shim.bodies import MediaIdsBody
from api_shim.endpoints import Endpoint, api
from api_shim.mediajson import ADMIN_MEDIA_JSON
from api_shim.queries import AdminMediaQuery
from api_shim.resources import Conn, resources_of

LOCK = b"""UPDATE public_media SET is_locked = true, locked_at = now(),
locked_reason = %(reason)s, updated_at = now()
WHERE id IN (SELECT id FROM public_media WHERE id = ANY(%(ids)s::int[]) AND NOT is_locked
             ORDER BY id FOR UPDATE)
RETURNING id"""
UNLOCK = b"""UPDATE public_media SET is_locked = false, locked_at = NULL,
locked_reason = NULL, updated_at = now()
WHERE id IN (SELECT id FROM public_media WHERE id = ANY(%(ids)s::int[]) AND is_locked
             ORDER BY id FOR UPDATE)
RETURNING id"""
EXISTING = b"SELECT id FROM public_media WHERE id = ANY(%(ids)s::int[])"


async def _bulk(
    request: Request, body: MediaIdsBody, statement: bytes, done_key: str
) -> JSONResponse:
    ids, reason = sorted(set(body.ids)), body.reason
    resources = resources_of(request)

    async def change(conn: Conn) -> tuple[list[int], set[int]]:
        cursor = await conn.execute(statement, {"ids": ids, "reason": reason})
        changed = [r[0] for r in await cursor.fetchall()]
        cursor = await conn.execute(EXISTING, {"ids": ids})
        return changed, {r[0] for r in await cursor.fetchall()}

    changed, existing = await resources.write(change)
    resources.details.drop(*ids)  # hidden from this process at once, from others within 1 s
    return JSONResponse(
        {
            "success": True,
            done_key: sorted(changed),
            "notFound": [i for i in ids if i not in existing],
        }
    )


async def lock_media(request: Request, body: MediaIdsBody) -> JSONResponse:
    return await _bulk(request, body, LOCK, "locked")


async def unlock_media(request: Request, body: MediaIdsBody) -> JSONResponse:
    return await _bulk(request, body, UNLOCK, "unlocked")


def _admin_list_sql(locked: str | None, category: bool) -> bytes:
    clauses = ["true"]
    if locked is not None:
        clauses.append("is_locked" if locked == "true" else "NOT is_locked")
    if category:
        clauses.append("category = %(category)s")
    where = " AND ".join(clauses)
    return (
        f"SELECT (SELECT count(*) FROM public_media WHERE {where}), "
        "coalesce((SELECT json_agg(page.j) FROM ("
        f"SELECT {ADMIN_MEDIA_JSON} AS j FROM public_media WHERE {where} "
        "ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s) AS page), '[]'::json)::text"
    ).encode()


async def list_admin_media(request: Request, query: AdminMediaQuery) -> Response:
    locked, category = query.locked, query.category
    limit, offset = query.limit, query.offset
    resources = resources_of(request)
    params = {"category": category, "limit": limit, "offset": offset}
    params.update(resources.files.sql_params())
    row = await resources.fetch_one(_admin_list_sql(locked, category is not None), params)
    assert row is not None
    total, page = int(row[0]), row[1]
    returned = len(json.loads(page))
    pagination = {
        "total": total,
        "limit": limit,
        "offset": offset,
        "hasMore": offset + returned < total,
    }
    return Response(
        '{"media":' + page + ',"pagination":' + json.dumps(pagination) + "}",
        media_type="application/json",
    )


ROUTES = [
    api(
        "/api/admin/media",
        list_admin_media,
        Endpoint(
            "Public media including locked items (admin)",
            a.AdminMediaPage,
            auth="admin",
            query=AdminMediaQuery,
        ),
    ),
    api(
        "/api/admin/media/lock",
        lock_media,
        Endpoint("Lock public media in bulk (admin)", a.Locked, auth="admin", body=MediaIdsBody),
        "POST",
    ),
    api(
        "/api/admin/media/unlock",
        unlock_media,
        Endpoint(
            "Unlock public media in bulk (admin)", a.Unlocked, auth="admin", body=MediaIdsBody
        ),
        "POST",
    ),
]
