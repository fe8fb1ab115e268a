"""The admin pages in a real headless Chromium against a running fleet.

Jobs page: filters, cancels a running job, bulk-retries failed jobs after the confirmation
that says how many, pauses and resumes a class. Library page: enqueues a GIF for two selected
videos (generated and scanned for real) and shows both finish. Screenshots go to
``artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.browserharness import ARTIFACTS, browser  # noqa: F401 (fixture)
from tests.integration.fleet import fleet, query, scalar, wait_for_workers, wait_until
from tests.media_fixtures import make_video


def _status(settings: Settings, job_id: int) -> str:
    return str(scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=job_id))


def test_jobs_page_filters_cancels_bulk_retries_and_pauses(
    settings: Settings,
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    token = mint_token(settings, 1, "admin")
    with fleet(settings, tmp_path), live_server(settings) as base:
        wait_for_workers(settings, 1)
        with transaction(settings.database_url) as session:
            long_id = enqueue(session, JobSpec("noop", {"seconds": 120}, priority=9))
            failing = enqueue_many(session, [JobSpec("noop", {"fail": "permanent"})] * 3)
        wait_until(lambda: _status(settings, long_id) == "running", 30, what="the long job")
        wait_until(
            lambda: all(_status(settings, i) == "failed" for i in failing), 30, what="failures"
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/admin/jobs#token={token}")
        rows = page.locator("#rows tr")
        expect(rows).to_have_count(4)

        # filter: only the failed ones
        page.select_option("#f-status", "failed")
        page.click("#filters button[type=submit]")
        expect(rows).to_have_count(3)
        expect(page.locator("#rows tr[data-status=failed]")).to_have_count(3)

        # bulk retry of everything matching the filter, after the confirmation says how many
        page.check("#select-all")
        page.click("#bulk-retry")
        expect(page.locator("#confirm-text")).to_contain_text("Retry all 3 jobs matching")
        page.screenshot(path=str(ARTIFACTS / "admin-jobs-confirm.png"), full_page=True)
        page.click("#confirm-yes")
        expect(page.locator("#notice")).to_contain_text("retry: 3 of 3 jobs changed")
        wait_until(
            lambda: (
                scalar(
                    settings,
                    "SELECT count(*) FROM job_attempts WHERE job_id = ANY(:f) AND attempt = 2",
                    f=failing,
                )
                == 3
            ),
            30,
            what="a second attempt of each retried job",
        )

        # cancel the running job from its row
        page.select_option("#f-status", "running")
        page.click("#filters button[type=submit]")
        expect(page.locator(f"#rows tr[data-job='{long_id}']")).to_have_count(1)
        page.click(f"button[aria-label='Cancel job {long_id}']")
        wait_until(lambda: _status(settings, long_id) == "cancelled", 15, what="the cancel")
        expect(page.locator(f"#rows tr[data-job='{long_id}']")).to_have_count(0)

        # pause and resume a class
        page.click("button[aria-label='Pause cpu']")
        expect(page.locator("li[data-class=cpu] .paused")).to_contain_text("paused by admin 1")
        assert scalar(settings, "SELECT paused_by FROM queue_pauses") == "admin 1"
        page.screenshot(path=str(ARTIFACTS / "admin-jobs-paused.png"), full_page=True)
        page.click("button[aria-label='Resume cpu']")
        expect(page.locator("li[data-class=cpu] .paused")).to_have_count(0)
        assert scalar(settings, "SELECT count(*) FROM queue_pauses") == 0

        # a job's detail: its attempts
        page.select_option("#f-status", "")
        page.click("#filters button[type=submit]")
        page.click(f"#rows tr[data-job='{failing[0]}'] a")
        expect(page.locator("#detail-attempts tr")).to_have_count(2)
        page.screenshot(path=str(ARTIFACTS / "admin-jobs.png"), full_page=True)


def test_library_page_enqueues_a_gif_for_two_videos_and_shows_them_finish(
    settings: Settings,
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    root = Path(settings.library_root) / "inbox"
    for name in ("alpha", "beta", "gamma"):
        make_video(root / f"{name}.mp4", 2, 320, 240)
    token = mint_token(settings, 1, "admin")
    with fleet(settings, tmp_path), live_server(settings) as base:
        wait_for_workers(settings, 1)
        with transaction(settings.database_url) as session:
            scan = enqueue(session, JobSpec("scan"))
        wait_until(lambda: _status(settings, scan) == "completed", 60, what="the scan")
        ids = {
            Path(r.filename).stem: r.id for r in query(settings, "SELECT id, filename FROM videos")
        }
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/admin/library#token={token}")
        expect(page.locator("#grid li")).to_have_count(3)
        page.fill("#f-search", "alp")
        page.click("#filters button[type=submit]")
        expect(page.locator("#grid li")).to_have_count(1)
        page.fill("#f-search", "")
        page.click("#filters button[type=submit]")
        expect(page.locator("#grid li")).to_have_count(3)
        for name in ("alpha", "beta"):
            page.check(f"#grid li[data-video='{ids[name]}'] input[type=checkbox]")
        expect(page.locator("#selected")).to_have_text("2 selected")
        page.select_option("#job-type", "generate_gif")
        page.click("#enqueue")
        tracked = page.locator("#tracked li")
        expect(tracked).to_have_count(2)
        expect(page.locator("#tracked li[data-status=completed]")).to_have_count(2, timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "admin-library.png"), full_page=True)
    gifs = query(
        settings,
        "SELECT params->>'videoId' AS v, status FROM jobs WHERE type = 'generate_gif'",
    )
    assert sorted((int(r.v), r.status) for r in gifs) == sorted(
        [(ids["alpha"], "completed"), (ids["beta"], "completed")]
    )


def test_shared_media_page_moves_locks_and_moderates(
    settings: Settings,
    browser: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    from tests.integration.apiharness import insert_media

    [media] = insert_media(settings, 1, category="highlights")
    [other] = insert_media(settings, 1, category="highlights")
    with transaction(settings.database_url) as session:
        from sqlalchemy import text

        for body in ("lovely", "spam spam"):
            session.execute(
                text("INSERT INTO comments (media_id, body, author_name) VALUES (:m, :b, 'ann')"),
                {"m": media, "b": body},
            )
        session.execute(
            text("UPDATE public_media SET comment_count = 2 WHERE id = :m"), {"m": media}
        )
    token = mint_token(settings, 1, "admin")
    with live_server(settings) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/admin/shared#token={token}")
        row = page.locator(f"#rows tr[data-media='{media}']")
        expect(row).to_have_count(1)
        row.locator("input[aria-label^=category]").fill("curated")
        row.locator("button", has_text="Move").click()
        expect(page.locator("#notice")).to_contain_text("moved to curated")
        row.locator("input[aria-label^='lock reason']").fill("needs review")
        row.locator(f"button[aria-label='Lock {media}']").click()
        expect(row.locator(".state")).to_have_text("locked: needs review")
        row.locator(f"button[aria-label='Comments of {media}']").click()
        comments = page.locator("#comment-list li[data-comment]")
        expect(comments).to_have_count(2)
        comments.filter(has_text="spam").locator("button", has_text="Hide").click()
        expect(page.locator("#comment-list li[data-hidden=true]")).to_have_count(1)
        comments.filter(has_text="lovely").locator("button", has_text="Delete").click()
        expect(comments).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "admin-shared.png"), full_page=True)
    row_after = query(
        settings,
        "SELECT category, is_locked, locked_reason FROM public_media WHERE id = :m",
        m=media,
    )[0]
    assert (row_after.category, row_after.is_locked, row_after.locked_reason) == (
        "curated",
        True,
        "needs review",
    )
    assert scalar(settings, "SELECT category FROM public_media WHERE id = :m", m=other) == (
        "highlights"
    )
    left = query(
        settings,
        "SELECT body, hidden_at IS NOT NULL AS hidden FROM comments WHERE media_id = :m",
        m=media,
    )
    assert [(r.body, r.hidden) for r in left] == [("spam spam", True)]


def test_each_admin_page_forgets_a_refused_token_and_signs_in_from_the_form(
    settings: Settings,
    browser: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    user = mint_token(settings, 2, "user")  # a valid token, but not an admin's: 403
    admin = mint_token(settings, 1, "admin")
    with live_server(settings) as base:
        for path in ("/admin/jobs", "/admin/library", "/admin/shared"):
            page = browser.new_page()
            page.goto(f"{base}{path}#token={user}")
            expect(page.locator("#login")).to_be_visible()
            expect(page.locator("#login-error")).to_be_visible()
            expect(page.locator("#app")).to_be_hidden()
            assert page.evaluate("localStorage.getItem('mediaq.adminToken')") is None, path
            assert "token=" not in page.url, path
            page.fill("#token", admin)
            page.click("#login button[type=submit]")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#login")).to_be_hidden()
            assert page.evaluate("localStorage.getItem('mediaq.adminToken')") == admin, path
            page.close()
