"""Scanning a generated library: exact rows, metadata, thumbnails, one dedup, idempotent."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import pytest

from mediaq.settings import Settings
from tests.integration.fleet import query
from tests.media_fixtures import make_video, run_inline


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def library(settings: Settings) -> dict[str, Path]:
    root = Path(settings.library_root)
    files = {
        "acme": make_video(root / "studios" / "Acme" / "Acme - Summer Trip.mp4", 2, 320, 240),
        "portrait": make_video(root / "inbox" / "phone clip.mp4", 2, 240, 320),
        "hd": make_video(root / "curated" / "hd_reel_720p.mp4", 1, 1280, 720),
        "silent": make_video(root / "private" / "square.mkv.mp4", 2, 240, 240, audio=False),
    }
    files["copy"] = root / "videos" / "another name.mp4"
    files["copy"].parent.mkdir(parents=True)
    shutil.copyfile(files["acme"], files["copy"])
    data = files["hd"].read_bytes()
    files["corrupt"] = root / "inbox" / "broken.mp4"
    files["corrupt"].write_bytes(data[: len(data) // 3])  # no moov atom: unreadable
    files["text"] = root / "notes.txt"
    files["text"].write_text("not a video\n")
    # The gallery and thumbnails live inside the library root but are not library files.
    make_video(Path(settings.public_root) / "highlights" / "public.mp4", 1, 320, 240)
    return files


def _rows(settings: Settings) -> list[Any]:
    return query(settings, "SELECT * FROM videos ORDER BY id")


def test_scan_gives_exact_rows_metadata_thumbnails_and_one_dedup(
    settings: Settings, library: dict[str, Path]
) -> None:
    run = run_inline(settings, "scan", {})
    assert run.status == "completed", run.log
    assert run.result is not None
    assert run.result["inserted"] == 5
    assert run.result["duplicates"] == 1
    assert run.result["unreadable"] == 1
    assert run.result["skipped"] == 1
    assert run.result["files"] == 6
    rows = {Path(r.path).name: r for r in _rows(settings)}
    assert set(rows) == {
        "Acme - Summer Trip.mp4",
        "phone clip.mp4",
        "hd_reel_720p.mp4",
        "square.mkv.mp4",
        "another name.mp4",
    }
    expected = {
        # name: (seconds, width, height, audio, quality, orientation, directory type)
        "Acme - Summer Trip.mp4": (2, 320, 240, True, "240p", "landscape", "studios"),
        "phone clip.mp4": (2, 240, 320, True, "240p", "portrait", "inbox"),
        "hd_reel_720p.mp4": (1, 1280, 720, True, "720p", "landscape", "curated"),
        "square.mkv.mp4": (2, 240, 240, False, "240p", "square", "private"),
        "another name.mp4": (2, 320, 240, True, "240p", "landscape", "videos"),
    }
    for name, (secs, w, h, audio, quality, orientation, dtype) in expected.items():
        row = rows[name]
        got = (
            row.duration_seconds,
            row.width,
            row.height,
            row.has_audio,
            row.quality,
            row.orientation,
            row.directory_type,
        )
        assert got == (secs, w, h, audio, quality, orientation, dtype), name
        path = Path(row.path)
        assert row.file_size == path.stat().st_size
        assert row.file_mtime_ns == path.stat().st_mtime_ns
        assert row.file_hash == _sha256(path)
    acme = rows["Acme - Summer Trip.mp4"]
    assert (acme.producer, acme.title) == ("Acme", "Summer Trip")
    assert rows["hd_reel_720p.mp4"].title == "hd reel"

    # One dedup: the copy under another name is recorded as an invalid duplicate.
    dup = rows["another name.mp4"]
    assert dup.is_valid is False
    assert run.result["duplicateOf"] == {dup.path: acme.id}
    assert [n for n, r in rows.items() if r.is_valid is False] == ["another name.mp4"]

    # One thumbnail per video: four JPEG files, 320 px wide; the duplicate shares its original's.
    thumbs = sorted((Path(settings.thumbnail_root) / "videos").iterdir())
    assert len(thumbs) == 4
    for row in rows.values():
        assert row.thumbnail_path is not None
        image = cv2.imread(row.thumbnail_path)
        assert image is not None and image.shape[1] == 320
    assert dup.thumbnail_path == acme.thumbnail_path
    portrait = cv2.imread(rows["phone clip.mp4"].thumbnail_path)
    assert portrait.shape[0] > portrait.shape[1]  # upright: taller than wide
    assert "broken.mp4" in run.log and "notes.txt" in run.log


def test_second_scan_changes_and_hashes_nothing(
    settings: Settings, library: dict[str, Path]
) -> None:
    assert run_inline(settings, "scan", {}).status == "completed"
    before = _rows(settings)
    thumb_dir = Path(settings.thumbnail_root) / "videos"
    thumbs_before = {p.name: p.stat().st_mtime_ns for p in thumb_dir.iterdir()}
    again = run_inline(settings, "scan", {})
    assert again.status == "completed", again.log
    assert again.result is not None
    assert again.result["hashedFiles"] == 0
    assert again.result["hashedBytes"] == 0
    assert again.result["inserted"] == again.result["updated"] == again.result["missing"] == 0
    assert again.result["unchanged"] == 5
    assert _rows(settings) == before
    assert {p.name: p.stat().st_mtime_ns for p in thumb_dir.iterdir()} == thumbs_before


def test_rescan_updates_changed_marks_missing_and_takes_back_returned(
    settings: Settings, library: dict[str, Path]
) -> None:
    assert run_inline(settings, "scan", {}).status == "completed"
    ids = {Path(r.path).name: r.id for r in _rows(settings)}
    # Change one file, remove another.
    make_video(library["portrait"], 3, 240, 320)
    os.utime(library["portrait"], ns=(1, 1_700_000_000_000_000_000))
    moved = library["hd"].with_name("away.bin")
    library["hd"].rename(moved)
    run = run_inline(settings, "scan", {})
    assert run.result is not None
    assert (run.result["updated"], run.result["missing"], run.result["hashedFiles"]) == (1, 1, 1)
    rows = {r.id: r for r in _rows(settings)}
    assert rows[ids["phone clip.mp4"]].duration_seconds == 3
    assert rows[ids["phone clip.mp4"]].is_valid is True
    assert rows[ids["hd_reel_720p.mp4"]].is_valid is False
    # The file comes back unchanged: valid again, still not hashed.
    moved.rename(library["hd"])
    back = run_inline(settings, "scan", {})
    assert back.result is not None
    assert (back.result["revalidated"], back.result["hashedFiles"]) == (1, 0)
    assert query(settings, "SELECT is_valid FROM videos WHERE id = :i", i=ids["hd_reel_720p.mp4"])[
        0
    ].is_valid


def test_public_scan_fills_gallery_with_categories_and_links_library_copies(
    settings: Settings, library: dict[str, Path]
) -> None:
    assert run_inline(settings, "scan", {}).status == "completed"
    public = Path(settings.public_root)
    shutil.copyfile(library["acme"], public / "highlights" / "acme copy.mp4")
    make_video(public / "loose.mp4", 1, 240, 320)
    (public / "readme.md").write_text("gallery\n")
    run = run_inline(settings, "public_scan", {})
    assert run.status == "completed", run.log
    assert run.result is not None
    assert (run.result["inserted"], run.result["skipped"], run.result["linked"]) == (3, 1, 1)
    rows = {r.filename: r for r in query(settings, "SELECT * FROM public_media ORDER BY id")}
    assert {n: r.category for n, r in rows.items()} == {
        "acme copy.mp4": "highlights",
        "public.mp4": "highlights",
        "loose.mp4": "uncategorized",
    }
    acme_id = query(settings, "SELECT id FROM videos WHERE filename = 'Acme - Summer Trip.mp4'")
    assert rows["acme copy.mp4"].video_id == acme_id[0].id
    assert rows["loose.mp4"].orientation == "portrait"
    assert all(Path(r.thumbnail_path).is_file() for r in rows.values())
    before = query(settings, "SELECT * FROM public_media ORDER BY id")
    again = run_inline(settings, "public_scan", {})
    assert again.result is not None and again.result["unchanged"] == 3
    assert query(settings, "SELECT * FROM public_media ORDER BY id") == before
    (public / "loose.mp4").unlink()
    gone = run_inline(settings, "public_scan", {})
    assert gone.result is not None and gone.result["missing"] == 1
    locked = query(
        settings, "SELECT is_locked, locked_reason FROM public_media WHERE filename = 'loose.mp4'"
    )
    assert (locked[0].is_locked, locked[0].locked_reason) == (True, "file missing")


def test_a_rotated_phone_video_is_portrait_with_an_upright_thumbnail(settings: Settings) -> None:
    clip = make_video(Path(settings.library_root) / "phone.mp4", 1, 320, 240, rotate=90)
    run = run_inline(settings, "scan", {})
    assert run.status == "completed", run.log
    [row] = _rows(settings)
    assert (row.width, row.height, row.orientation) == (240, 320, "portrait")
    ours = cv2.imread(row.thumbnail_path).astype(int)
    # ffmpeg applies the display rotation itself: the same frame, scaled the same way.
    reference = Path(settings.library_root) / "reference.jpg"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-ss",
            "0.1",
            "-i",
            str(clip),
            "-frames:v",
            "1",
            "-vf",
            "scale=320:-2",
            str(reference),
        ],
        check=True,
    )
    theirs = cv2.resize(cv2.imread(str(reference)), (ours.shape[1], ours.shape[0])).astype(int)
    assert ours.shape[:2] == (427, 320)
    assert abs(ours - theirs).mean() < 8
    assert abs(ours - theirs[::-1, ::-1]).mean() > 40  # an upside-down picture would differ
