"""The public pages: the gallery (``/gallery``) and the viewer (``/watch/{id}``).

Both are server-rendered shells; their scripts read the public JSON endpoints, so filtering,
sorting and counting have one implementation (``gallery.py`` and the routes). The viewer
answers 404 for an unknown or locked item, like the item's JSON, stream and thumbnail.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api_shim.bodies import MAX_AUTHOR_CHARS, MAX_COMMENT_CHARS
from api_shim.gallery import DEFAULT_LIMIT, DEFAULT_SORT, SORT_LABELS
from api_shim.heatmap import SEGMENTS
from api_shim.mediajson import MEDIA_DETAIL_JSON
from api_shim.pages import not_found_page, render
from api_shim.resources import resources_of
from mediaq.jobparams import INT32_MAX

CATEGORIES = b"""SELECT category, sum(n)::bigint FROM public_media_counts
GROUP BY category HAVING sum(n) > 0 ORDER BY category"""
MEDIA_FOR_PAGE = (
    f"SELECT {MEDIA_DETAIL_JSON}::text FROM public_media WHERE id = %(id)s AND NOT is_locked"
).encode()
NOT_IN_GALLERY = "This video is not in the gallery."


async def gallery_page(request: Request) -> HTMLResponse:
    rows = await resources_of(request).fetch_all(CATEGORIES, {})
    query = request.query_params
    sort = query.get("sort", DEFAULT_SORT)
    current = {
        "category": query.get("category", ""),
        "sort": sort if sort in SORT_LABELS else DEFAULT_SORT,
        "search": query.get("search", "")[:200],
    }
    return render(
        request,
        "gallery.html",
        {
            "title": "Gallery",
            "categories": [{"name": r[0], "count": int(r[1])} for r in rows],
            "sorts": list(SORT_LABELS.items()),
            "current": current,
            "page_size": DEFAULT_LIMIT,
        },
    )


async def viewer_page(request: Request) -> HTMLResponse:
    raw = request.path_params["id"]
    if not raw.isdigit() or not 1 <= int(raw) <= INT32_MAX:
        return not_found_page(request, NOT_IN_GALLERY)
    resources = resources_of(request)
    row = await resources.fetch_one(
        MEDIA_FOR_PAGE, {"id": int(raw), **resources.files.sql_params()}
    )
    if row is None:
        return not_found_page(request, NOT_IN_GALLERY)
    media = json.loads(row[0])
    return render(
        request,
        "viewer.html",
        {
            "title": media["filename"],
            "media": media,
            "segments": SEGMENTS,
            "max_comment": MAX_COMMENT_CHARS,
            "max_author": MAX_AUTHOR_CHARS,
        },
    )


ROUTES = [
    Route("/gallery", gallery_page, methods=["GET"], include_in_schema=False),
    Route("/watch/{id}", viewer_page, methods=["GET"], include_in_schema=False),
]
