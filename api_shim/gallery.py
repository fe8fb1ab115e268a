"""The public gallery query: filters and sorts -> one SQL statement per shape (pure).

Every sort reads one of the partial gallery indexes of migration 0002 (unlocked rows only,
with or without the category in front) in order and stops after ``offset + limit`` entries.
The total comes from ``public_media_counts`` (exact, kept by triggers) whenever the filter is
category and/or orientation; a search has no such table, so its total is counted and cached
for a few seconds per filter (``SearchTotals``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from api_shim.mediajson import GALLERY_ITEM_JSON

SORT_ORDER = {
    "recent": "created_at DESC, id DESC",
    "popular": "upvote_count DESC, created_at DESC, id DESC",
    "most_viewed": "view_count DESC, created_at DESC, id DESC",
}
SORTS = tuple(SORT_ORDER)
SORT_LABELS = {"recent": "Most recent", "popular": "Most popular", "most_viewed": "Most viewed"}
DEFAULT_SORT = "recent"
DEFAULT_LIMIT = 24
MAX_LIMIT = 100
SEARCH_TOTAL_TTL_S = 5.0
SEARCH_TOTAL_ENTRIES = 1024


@dataclass(frozen=True)
class GalleryFilter:
    """What a gallery request asks for, already validated."""

    category: str | None
    orientation: str | None
    search: str | None  # an ILIKE pattern with % and _ escaped, or None
    sort: str
    limit: int
    offset: int

    def params(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "orientation": self.orientation,
            "pattern": self.search,
            "limit": self.limit,
            "offset": self.offset,
        }

    def total_key(self) -> tuple[str | None, str | None, str | None]:
        return (self.category, self.orientation, self.search)


def _media_where(f: GalleryFilter) -> str:
    clauses = ["NOT is_locked"]
    if f.category is not None:
        clauses.append("category = %(category)s")
    if f.orientation is not None:
        clauses.append("orientation = %(orientation)s")
    if f.search is not None:
        clauses.append(
            r"(filename ILIKE %(pattern)s ESCAPE '\' OR path ILIKE %(pattern)s ESCAPE '\')"
        )
    return " AND ".join(clauses)


def _page_from(f: GalleryFilter) -> str:
    # The inner ORDER BY ... LIMIT is kept as is by PostgreSQL, so json_agg sees rows in order.
    return (
        "(SELECT json_agg(page.j) AS items, count(*) AS n FROM ("
        f"SELECT {GALLERY_ITEM_JSON} AS j FROM public_media WHERE {_media_where(f)} "
        f"ORDER BY {SORT_ORDER[f.sort]} LIMIT %(limit)s OFFSET %(offset)s"
        ") AS page) AS p"
    )


def _counts_subquery(f: GalleryFilter) -> str:
    clauses = ["true"]
    if f.category is not None:
        clauses.append("category = %(category)s")
    if f.orientation is not None:
        clauses.append("orientation = %(orientation)s")
    return (
        "(SELECT coalesce(sum(n), 0) FROM public_media_counts "
        f"WHERE {' AND '.join(clauses)})::bigint"
    )


@lru_cache(maxsize=64)
def _page_sql_for(shape: GalleryFilter) -> bytes:
    total = _counts_subquery(shape) if shape.search is None else "NULL::bigint"
    page = "coalesce(p.items, '[]'::json)::text"
    return f"SELECT {total}, {page}, p.n FROM {_page_from(shape)}".encode()


def _shape(f: GalleryFilter) -> GalleryFilter:
    # Statements depend only on which filters are present, so they stay few and prepared.
    return GalleryFilter(
        category="" if f.category is not None else None,
        orientation="" if f.orientation is not None else None,
        search="" if f.search is not None else None,
        sort=f.sort,
        limit=0,
        offset=0,
    )


def page_sql(f: GalleryFilter) -> bytes:
    """``SELECT total-or-NULL, page JSON text, rows on the page`` for this filter's shape."""
    return _page_sql_for(_shape(f))


@lru_cache(maxsize=16)
def _search_count_sql_for(shape: GalleryFilter) -> bytes:
    return f"SELECT count(*) FROM public_media WHERE {_media_where(shape)}".encode()


def search_count_sql(f: GalleryFilter) -> bytes:
    """The counting statement of a search filter (no counts table can serve a search)."""
    return _search_count_sql_for(_shape(f))


def has_more(offset: int, returned: int, total: int) -> bool:
    """The seed's ``pagination.hasMore``."""
    return offset + returned < total


class SearchTotals:
    """A small per-process cache of search totals: (filter) -> (total, expires at)."""

    def __init__(
        self, ttl_s: float = SEARCH_TOTAL_TTL_S, entries: int = SEARCH_TOTAL_ENTRIES
    ) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self._data: OrderedDict[tuple[str | None, ...], tuple[int, float]] = OrderedDict()

    def get(self, key: tuple[str | None, ...], now: float | None = None) -> int | None:
        now = time.monotonic() if now is None else now
        hit = self._data.get(key)
        if hit is None or hit[1] <= now:
            return None
        return hit[0]

    def put(self, key: tuple[str | None, ...], total: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._data[key] = (total, now + self.ttl_s)
        self._data.move_to_end(key)
        while len(self._data) > self.entries:
            self._data.popitem(last=False)
