"""The queue dashboard in a real headless Chromium against a running fleet with fake GPUs.

A job runs on a fake 8 GiB GPU and reserves 6000 MiB; a second GPU job cannot fit and waits.
The page must show that job's waiting reason and the GPU's bar with the reservation, after an
admin signs in with a token. The screenshot is kept in ``artifacts/`` as a test artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.jobcontrol import cancel_job
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.browserharness import browser, screenshot
from tests.integration.fleet import fleet, scalar, wait_until

__all__ = ["browser"]  # the fixture


def add_job(settings: Settings, spec: JobSpec) -> int:
    with transaction(settings.database_url) as session:
        return enqueue(session, spec)


def test_dashboard_shows_waiting_reason_and_vram_bar(
    settings: Settings, tmp_path: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    gpu_host = {"fake_gpus": (8192,), "classes": ("gpu_ai",)}
    with fleet(settings, tmp_path, workers=1, worker_overrides=[gpu_host]) as (_, workers):
        host = f"{settings.host_name}-w0"
        big = JobSpec("noop", {"seconds": 60}, resource_category="gpu_ai", vram_required=6000)
        running = add_job(settings, big)
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=running) == "running"
            ),
            45,
            what=f"job running on the fake GPU\n{workers[0].log_tail()}",
        )
        blocked = add_job(
            settings,
            JobSpec("noop", {"seconds": 1}, resource_category="gpu_ai", vram_required=4000),
        )
        reason = wait_until(
            lambda: scalar(settings, "SELECT waiting_reason FROM jobs WHERE id = :i", i=blocked),
            20,
            what="a waiting reason for the job that does not fit",
        )
        gpu_uuid = scalar(settings, "SELECT uuid FROM gpus WHERE host_name = :h", h=host)
        token = mint_token(settings, 1, "admin")

        with live_server(settings) as base:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # No token yet: the page asks for one; a user token is refused.
            page.goto(f"{base}/admin/queue")
            expect(page.locator("#login")).to_be_visible()
            page.fill("#token", mint_token(settings, 2, "user"))
            page.click("#login button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("Admin role required")
            page.fill("#token", token)
            page.click("#login button[type=submit]")
            expect(page.locator("#app")).to_be_visible()

            row = page.locator(f'#pending tr[data-job-id="{blocked}"]')
            expect(row.locator(".reason")).to_have_text(reason, timeout=15_000)
            expect(row.locator(".code")).to_have_text(reason.split(":")[0])
            bar = page.locator(f'.gpu[data-gpu="{gpu_uuid}"] .gpu-bar')
            expect(bar).to_be_visible()
            reserved = float(
                bar.locator(".seg-reserved").evaluate("e => parseFloat(e.style.width)")
            )
            assert 70 < reserved < 76, reserved  # 6000 of 8192 MiB
            active = page.locator(f'#active tr[data-job-id="{running}"]')
            expect(active).to_contain_text("running")
            expect(page.locator('#classes tr[data-class="gpu_ai"] .running')).to_have_text("1")

            screenshot(page, "dashboard.png")

            # Live: cancelling the running job frees the GPU; the page follows by itself.
            with transaction(settings.database_url) as session:
                cancel_job(session, running)
            expect(active).to_have_count(0, timeout=15_000)

            # The fragment form of the token, as `mediaq up` prints it.
            fresh = browser.new_page()
            fresh.goto(f"{base}/admin/queue#token={token}")
            expect(fresh.locator("#app")).to_be_visible()
            assert "#token" not in fresh.url
            # "forget token": the token leaves this browser and the form is back
            fresh.click("#signout")
            expect(fresh.locator("#login")).to_be_visible()
            expect(fresh.locator("#app")).to_be_hidden()
            expect(fresh.locator("#status")).to_have_text("signed out")
            fresh.reload()
            expect(fresh.locator("#login")).to_be_visible()
