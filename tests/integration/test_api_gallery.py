"""The gallery: sort orders, filters, exact totals from the counts table, index-only ordering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api_shim.gallery import SORTS, GalleryFilter, page_sql
from api_shim.mediafiles import LibraryFiles
from mediaq.settings import Settings
from tests.integration.apiharness import connect, live_server, scalar

FILL = """
INSERT INTO public_media (path, filename, category, orientation, view_count, upvote_count,
                          is_locked, created_at)
SELECT '/g/' || g || '.mp4', 'g_' || g || '.mp4', 'cat' || (g %% 5),
       (ARRAY['landscape','portrait','square'])[1 + g %% 3],
       (g * 7919) %% 1000, (g * 104729) %% 50, g %% 20 = 0,
       now() - make_interval(secs => (g * 37) %% 100000)
FROM generate_series(1, %s) g
"""


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        yield http


def _fill(settings: Settings, rows: int) -> None:
    with connect(settings) as conn:
        conn.execute(FILL, (rows,))  # type: ignore[arg-type]
        conn.execute("ANALYZE public_media")


def _expected(settings: Settings, where: str, order: str, limit: int) -> list[int]:
    with connect(settings) as conn:
        rows = conn.execute(
            f"SELECT id FROM public_media WHERE NOT is_locked AND {where} "  # type: ignore[arg-type]
            f"ORDER BY {order} LIMIT {limit}"
        ).fetchall()
    return [r[0] for r in rows]


ORDERS = {
    "recent": "created_at DESC, id DESC",
    "popular": "upvote_count DESC, created_at DESC, id DESC",
    "most_viewed": "view_count DESC, created_at DESC, id DESC",
}


@pytest.mark.parametrize("sort", SORTS)
def test_sorts_and_filters_match_the_seed_order(
    settings: Settings, client: httpx.Client, sort: str
) -> None:
    _fill(settings, 600)
    cases = [
        ({"category": "cat2"}, "category = 'cat2'"),
        (
            {"category": "cat2", "orientation": "portrait"},
            "category = 'cat2' AND orientation = 'portrait'",
        ),
        ({"orientation": "square"}, "orientation = 'square'"),
        ({}, "true"),
    ]
    for params, where in cases:
        got = client.get("/api/media/public", params={**params, "sort": sort, "limit": 30}).json()
        assert [v["id"] for v in got["videos"]] == _expected(settings, where, ORDERS[sort], 30)
        total = scalar(
            settings, f"SELECT count(*) FROM public_media WHERE NOT is_locked AND {where}"
        )
        assert got["pagination"]["total"] == total
        assert all(v["isLocked"] is False for v in got["videos"])
    # Pages follow each other without gaps or repeats.
    first = client.get("/api/media/public", params={"sort": sort, "limit": 50}).json()["videos"]
    second = client.get(
        "/api/media/public", params={"sort": sort, "limit": 50, "offset": 50}
    ).json()["videos"]
    assert [v["id"] for v in first + second] == _expected(settings, "true", ORDERS[sort], 100)


def test_totals_stay_exact_through_inserts_moves_locks_and_deletes(
    settings: Settings, client: httpx.Client
) -> None:
    _fill(settings, 300)

    def totals() -> list[tuple[str | None, str | None, int, int]]:
        out = []
        for category in (None, "cat0", "cat3"):
            for orientation in (None, "landscape", "portrait"):
                params = {
                    k: v for k, v in (("category", category), ("orientation", orientation)) if v
                }
                api = client.get("/api/media/public", params=params).json()["pagination"]["total"]
                where = " AND ".join(
                    ["NOT is_locked"]
                    + ([f"category = '{category}'"] if category else [])
                    + ([f"orientation = '{orientation}'"] if orientation else [])
                )
                real = scalar(settings, f"SELECT count(*) FROM public_media WHERE {where}")
                out.append((category, orientation, api, real))
        return out

    def check() -> None:
        for category, orientation, api, real in totals():
            assert api == real, (category, orientation)

    check()
    with connect(settings) as conn:
        conn.execute("UPDATE public_media SET category = 'cat3' WHERE id % 7 = 0")
        conn.execute("UPDATE public_media SET orientation = NULL WHERE id % 11 = 0")
        conn.execute("UPDATE public_media SET is_locked = NOT is_locked WHERE id % 13 = 0")
        conn.execute("DELETE FROM public_media WHERE id % 17 = 0")
        conn.execute("UPDATE public_media SET upvote_count = upvote_count + 1")
    check()


@pytest.mark.parametrize("with_category", [True, False])
@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_reads_an_index_in_order(
    settings: Settings, sort: str, with_category: bool
) -> None:
    _fill(settings, 20_000)
    f = GalleryFilter(
        category="cat1" if with_category else None,
        orientation=None,
        search=None,
        sort=sort,
        limit=24,
        offset=0,
    )
    with connect(settings) as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table may still favour a scan
        sql = b"EXPLAIN (FORMAT JSON) " + page_sql(f)
        params = {**f.params(), **LibraryFiles(settings).sql_params()}
        plan = conn.execute(sql, params).fetchone()[0][0]["Plan"]  # type: ignore[index]
    nodes = list(_walk(plan))
    assert "Sort" not in {n["Node Type"] for n in nodes}
    media_scans = [n for n in nodes if n.get("Relation Name") == "public_media"]
    assert len(media_scans) == 1
    assert media_scans[0]["Node Type"] == "Index Scan"
    assert media_scans[0]["Index Name"].startswith("idx_public_media_gallery_")
    # The total is read from the counts table, never counted over public_media.
    assert any(n.get("Relation Name") == "public_media_counts" for n in nodes)


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)
