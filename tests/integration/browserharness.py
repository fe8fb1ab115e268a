"""Headless Chromium (Debian's) through Playwright, and a small gallery made of real files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaq.settings import Settings
from tests.integration.apiharness import connect
from tests.media_fixtures import make_video

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
DOC_IMAGES = REPO / "docs" / "img"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; scripts/bootstrap installs it")
        pytest.skip("no chromium here (scripts/bootstrap installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page: Any, name: str, for_docs: bool = False) -> None:
    """Keep a screenshot as a test artifact (and as the README's picture when asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if for_docs:
        page.screenshot(path=str(DOC_IMAGES / name))


def publish_file(
    settings: Settings,
    name: str,
    category: str,
    seconds: float = 10.0,
    source: str = "testsrc",
    **counters: int,
) -> int:
    """A real H.264 clip and its JPEG thumbnail in the public roots, as ``publish`` leaves them."""
    folder = Path(settings.public_root).resolve() / category
    thumbs = Path(settings.thumbnail_root).resolve() / "media"
    folder.mkdir(parents=True, exist_ok=True)
    thumbs.mkdir(parents=True, exist_ok=True)
    target = folder / name
    make_video(target, seconds=seconds, width=320, height=180, source=source)
    thumb = thumbs / f"{abs(hash(name))}.jpg"
    frame = ["-frames:v", "1", "-vf", "scale=320:-2", str(thumb)]
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-nostdin", "-y", "-ss", "1", "-i", str(target), *frame],
        check=True,
        timeout=60,
    )
    columns = {
        "path": str(target),
        "filename": name,
        "category": category,
        "duration_seconds": round(seconds),
        "orientation": "landscape",
        "quality": "180p",
        "thumbnail_path": str(thumb),
        "file_size": target.stat().st_size,
        **counters,
    }
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    with connect(settings) as conn:
        row = conn.execute(
            f"INSERT INTO public_media ({names}) VALUES ({marks}) RETURNING id",  # type: ignore[arg-type]
            list(columns.values()),
        ).fetchone()
    assert row is not None
    return int(row[0])
