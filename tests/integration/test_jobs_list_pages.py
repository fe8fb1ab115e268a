"""``GET /api/jobs``: exact totals from kept counters, keyset pages, text in params."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.settings import Settings
from tests.integration.apiharness import live_server


def test_totals_keyset_pages_and_text_filter(settings: Settings) -> None:
    admin = {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}
    with transaction(settings.database_url) as session:
        ids = enqueue_many(
            session, [JobSpec("noop", {"label": f"clip-{i:02d}"}) for i in range(30)]
        )
        session.execute(
            text("UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = ANY(:i)"),
            {"i": ids[:12]},
        )
        session.execute(
            text("UPDATE jobs SET status = 'completed', completed_at = now() WHERE id = ANY(:i)"),
            {"i": ids[12:20]},
        )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:

        def get(**params: object) -> dict:  # type: ignore[type-arg]
            response = client.get("/api/jobs", params=params, headers=admin)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        assert get()["pagination"]["total"] == 30
        assert get(status="failed")["pagination"]["total"] == 12
        assert get(status="completed", type="noop")["pagination"]["total"] == 8
        assert get(status="pending", resourceCategory="cpu")["pagination"]["total"] == 10
        # keyset: pages of 5 failed jobs, newest first, each page where the last one ended
        seen: list[int] = []
        before = None
        while True:
            page = get(status="failed", limit=5, **({"before": before} if before else {}))
            seen += [j["id"] for j in page["jobs"]]
            if not page["pagination"]["hasMore"]:
                break
            before = page["pagination"]["nextBefore"]
        assert seen == sorted(ids[:12], reverse=True)
        found = get(q="clip-07")
        assert [j["id"] for j in found["jobs"]] == [ids[7]]
        assert found["pagination"]["total"] == 1
        assert get(q="100%_")["pagination"]["total"] == 0  # LIKE characters are literal
        bad = client.get("/api/jobs", params={"before": "x"}, headers=admin)
        assert bad.status_code == 400 and "before" in bad.json()["error"]
