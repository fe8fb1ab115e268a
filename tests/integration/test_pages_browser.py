"""The public gallery and viewer in a real headless Chromium over real files and the real API.

Screenshots go to ``artifacts/``; the gallery and viewer ones also to ``docs/img/`` for the
README.
"""

from __future__ import annotations

from typing import Any

import httpx

from api_shim.auth import mint_token
from api_shim.heatmap import MIN_REACTIONS
from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, live_server
from tests.integration.browserharness import browser, publish_file, screenshot
from tests.media_fixtures import run_inline

__all__ = ["browser"]  # the fixture

XSS_NAME = '"><img src=x onerror="window.__xss=1">.mp4'
XSS_TEXT = '<script>window.__xss=2</script><img src=y onerror="window.__xss=3">'
NO_INJECTION = """() => {
  const scripts = [...document.scripts].map((s) => s.getAttribute('src'));
  return {
    xss: window.__xss === undefined ? null : window.__xss,
    inline: scripts.filter((src) => !src || !src.startsWith('/static/')).length,
    injected: document.querySelectorAll('img[src="x"], img[src="y"]').length,
  };
}"""


def card_ids(page: Any) -> list[int]:
    return [
        int(v)
        for v in page.locator("#cards li.card").evaluate_all(
            "cards => cards.map(c => c.dataset.id)"
        )
    ]


def api_ids(http: httpx.Client, **query: Any) -> list[int]:
    return [v["id"] for v in http.get("/api/media/public", params=query).json()["videos"]]


def test_gallery_and_viewer(settings: Settings, browser: Any) -> None:
    from playwright.sync_api import expect

    first = publish_file(settings, "sunrise-over-the-bay.mp4", "videos", view_count=50)
    second = publish_file(
        settings, "city-timelapse.mp4", "videos", source="testsrc2", upvote_count=3
    )
    third = publish_file(settings, "four-up-compilation.mp4", "compilations", view_count=9)
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/gallery")
        cards = page.locator("#cards li.card")
        expect(cards).to_have_count(3)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#cards img')]"
            ".every((i) => i.complete && i.naturalWidth > 0)"
        )
        assert card_ids(page) == api_ids(http, sort="recent") == [third, second, first]
        screenshot(page, "gallery.png", for_docs=True)

        page.select_option("#sort", "most_viewed")
        expect(cards.first).to_have_attribute("data-id", str(first))
        assert card_ids(page) == api_ids(http, sort="most_viewed")
        page.select_option("#sort", "popular")
        expect(cards.first).to_have_attribute("data-id", str(second))
        assert card_ids(page) == api_ids(http, sort="popular")
        page.select_option("#category", "compilations")
        expect(cards).to_have_count(1)
        assert card_ids(page) == api_ids(http, category="compilations") == [third]
        assert "category=compilations" in page.url

        # one upvote per session, across reloads
        page.select_option("#category", "")
        button = page.locator(f'li.card[data-id="{first}"] button.upvote')
        expect(button.locator(".count")).to_have_text("0")
        button.click()
        expect(button.locator(".count")).to_have_text("1")
        expect(button).to_have_attribute("aria-pressed", "true")
        page.reload()
        button = page.locator(f'li.card[data-id="{first}"] button.upvote')
        expect(button.locator(".count")).to_have_text("1")
        expect(button).to_have_attribute("aria-pressed", "true")
        session = page.evaluate("() => localStorage.getItem('mediaq.sessionId')")
        again = http.post(f"/api/media/public/{first}/upvote", json={"sessionId": session})
        assert again.json()["upvoteCount"] == 1

        # the viewer: seek to ?t=5 over Range, play, react, comment, storyboard on hover
        assert run_inline(settings, "storyboard", {"mediaId": first}).status == "completed"
        streamed: list[int] = []
        viewer = browser.new_page(viewport={"width": 1280, "height": 1000})
        viewer.on(
            "response",
            lambda r: streamed.append(r.status) if r.url.endswith(f"/{first}/stream") else None,
        )
        token = mint_token(settings, 42, "user")
        errors: list[str] = []
        viewer.on("pageerror", lambda e: errors.append(str(e)))
        viewer.goto(f"{base}/watch/{first}?t=5#token={token}")
        viewer.wait_for_function("() => document.getElementById('video').readyState >= 1")
        viewer.wait_for_function(
            "() => Math.abs(document.getElementById('video').currentTime - 5) < 0.5"
        )
        assert 206 in streamed, streamed
        viewer.evaluate(
            "() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }"
        )
        viewer.wait_for_function(
            "() => document.getElementById('video').currentTime > 5.6", timeout=20_000
        )
        viewer.evaluate("() => document.getElementById('video').pause()")
        assert "#token" not in viewer.url

        heat = viewer.locator("#heat")
        expect(heat).to_have_attribute("data-drawn", "false")
        like = viewer.locator('#reaction-buttons button[data-type="like"]')
        for n in range(1, MIN_REACTIONS + 1):
            like.click()
            expect(viewer.locator("#reaction-list li")).to_have_count(n)
            expect(heat).to_have_attribute("data-total", str(n))
        expect(heat).to_have_attribute("data-drawn", "true")
        expect(heat.locator("path.curve")).to_have_count(1)
        markers = viewer.locator("#markers button.marker")
        counts = markers.evaluate_all("ms => ms.map(m => Number(m.dataset.count))")
        assert sum(counts) == MIN_REACTIONS  # one marker per second with reactions
        marker_t = int(markers.first.get_attribute("data-t"))
        assert 5 <= marker_t <= 7
        viewer.evaluate("() => { document.getElementById('video').currentTime = 0; }")
        viewer.locator("#markers button.marker").first.click()
        viewer.wait_for_function(
            f"() => Math.abs(document.getElementById('video').currentTime - {marker_t}) < 0.6"
        )

        expect(viewer.locator("#timeline")).to_have_attribute("data-storyboard", "ready")
        seekbar = viewer.locator("#seek").bounding_box()
        assert seekbar is not None
        viewer.mouse.move(seekbar["x"] + seekbar["width"] * 0.75, seekbar["y"] + 4)
        expect(viewer.locator("#preview")).to_be_visible()
        expect(viewer.locator("#preview-time")).to_have_text("0:07")
        frame = viewer.locator("#preview-frame").evaluate(
            "f => [f.style.backgroundImage, f.style.backgroundPosition, f.offsetWidth]"
        )
        assert "/storyboard/sprite-001.jpg" in frame[0] and frame[2] > 0, frame
        assert frame[1] == "-320px -90px", frame  # frame 8 of 5 per row: the 3rd of row 2
        viewer.wait_for_function(  # the sheet itself loaded
            "() => performance.getEntriesByType('resource')"
            ".some((e) => e.name.endsWith('/storyboard/sprite-001.jpg'))"
        )
        screenshot(viewer, "viewer-storyboard.png")

        viewer.fill("#comment-author", "Ada")
        viewer.fill("#comment-text", "What a view at the start")
        viewer.click("#comment-form button[type=submit]")
        expect(viewer.locator("#comment-list li")).to_have_count(1)
        expect(viewer.locator("#comment-list li .text")).to_have_text("What a view at the start")
        expect(viewer.locator("#related li a")).to_have_count(1)
        expect(viewer.locator("#related li a")).to_have_attribute("href", f"/watch/{second}")
        assert viewer.locator("#share-url").input_value().endswith(f"/watch/{first}?t={marker_t}")
        viewer.evaluate("() => window.scrollTo(0, 0)")
        screenshot(viewer, "viewer.png", for_docs=True)
        assert errors == []

        # without a token: reactions ask to sign in
        anonymous = browser.new_page()
        anonymous.goto(f"{base}/watch/{second}")
        expect(anonymous.locator("#react-note")).to_have_text("Sign in to react.")
        expect(anonymous.locator("#reaction-buttons button").first).to_be_disabled()

        # locked: gone from the gallery; page, stream and thumbnail 404
        http.post("/api/admin/media/lock", json={"ids": [first]}, headers=admin_headers(settings))
        page.reload()
        expect(cards).to_have_count(2)
        assert first not in card_ids(page)
        for url in (
            f"/watch/{first}",
            f"/api/media/public/{first}/stream",
            f"/api/media/public/{first}/thumbnail",
            f"/api/media/public/{first}",
        ):
            assert http.get(url).status_code == 404, url


def test_html_in_names_and_comments_stays_text(settings: Settings, browser: Any) -> None:
    from playwright.sync_api import expect

    bad = publish_file(settings, XSS_NAME, "videos", seconds=3)
    publish_file(settings, "plain.mp4", "videos", seconds=3)
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        posted = http.post(
            "/api/media/comments",
            json={
                "mediaId": bad,
                "content": XSS_TEXT,
                "authorName": XSS_TEXT[:90],
                "sessionId": "s-1",
            },
        )
        assert posted.status_code == 201, posted.text
        page = browser.new_page()
        page.goto(f"{base}/gallery")
        expect(page.locator("#cards li.card")).to_have_count(2)
        expect(page.locator(f'li.card[data-id="{bad}"] h2')).to_have_text(XSS_NAME)
        assert page.evaluate(NO_INJECTION) == {"xss": None, "inline": 0, "injected": 0}

        for url in (f"/watch/{bad}", f"/watch/{bad + 1}"):  # its page, and where it is related
            page.goto(base + url)
            expect(page.locator("#related li")).to_have_count(1)
            expect(page.locator("#comment-list li, #related li a")).not_to_have_count(0)
            if url.endswith(str(bad)):
                expect(page.locator("h1.title")).to_have_text(XSS_NAME)
                expect(page.locator("#comment-list li .text")).to_have_text(XSS_TEXT)
                assert XSS_NAME in page.title()
            page.wait_for_timeout(300)  # let every script finish drawing
            assert page.evaluate(NO_INJECTION) == {"xss": None, "inline": 0, "injected": 0}
        screenshot(page, "viewer-escaping.png")
