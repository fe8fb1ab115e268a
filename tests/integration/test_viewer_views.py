"""The viewer page counts a view only after the video has played a few seconds.

Real headless Chromium on the real API, PostgreSQL, Redis and a real H.264 clip.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from mediaq.settings import Settings
from mediaq.viewbuffer import ViewBuffer
from tests.integration.apiharness import live_server
from tests.integration.browserharness import browser, publish_file
from tests.integration.fleet import wait_until

__all__ = ["browser"]  # the fixture


def test_loading_the_viewer_is_not_a_view_playing_it_is(
    settings: Settings, browser: Any, redis_client: redis.Redis
) -> None:
    guard = settings.with_overrides(view_min_play_s=2)
    media = publish_file(guard, "harbour-at-dawn.mp4", "videos", seconds=8.0)
    buffer = ViewBuffer(guard.queue_prefix, guard.view_window_s)
    reports: list[dict[str, Any]] = []
    detail_urls: list[str] = []

    def seen(request: Any) -> None:
        if request.url.endswith(f"/api/media/public/{media}/view"):
            reports.append(json.loads(request.post_data or "{}"))
        elif f"/api/media/public/{media}?" in request.url:
            detail_urls.append(request.url)

    try:
        with live_server(guard) as base:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", seen)
            page.goto(f"{base}/watch/{media}")
            page.wait_for_function("() => document.getElementById('video').readyState >= 1")
            page.wait_for_load_state("networkidle")
            # The page read the counts without counting, and reported nothing yet.
            assert detail_urls and all("countView=false" in u for u in detail_urls)
            assert reports == []
            assert buffer.pending_views(redis_client, media) == 0
            page.evaluate(
                "() => { const v = document.getElementById('video'); v.muted = true; "
                "return v.play(); }"
            )

            def pumped(check: Any) -> Any:
                # Playwright's sync API delivers request events while it is called.
                return lambda: page.wait_for_timeout(50) or check()

            wait_until(pumped(lambda: len(reports) >= 1), 20, what="the report at playback start")
            assert reports[0]["playedSeconds"] < 1
            wait_until(
                pumped(
                    lambda: buffer.pending_views(redis_client, media) == 1 and len(reports) == 2
                ),
                30,
                what="the view counted after 2 s of play",
            )
            assert len(reports) == 2 and reports[1]["playedSeconds"] >= 2
            page.wait_for_function(
                "() => document.getElementById('video').currentTime > 4", timeout=20_000
            )
            assert len(reports) == 2  # counted once: no more reports while it plays on
            assert buffer.pending_views(redis_client, media) == 1
            assert errors == []
    finally:
        for key in redis_client.scan_iter(f"{guard.queue_prefix}:*"):
            redis_client.delete(key)
