"""Media handlers in detail, run inline through the real claim, handler and outcome code:
the model tagger, reaction-driven highlights, no-clobber organizing, fetch limits,
gallery history, and permanent failures for bad params or missing files."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from mediaq.db import transaction
from mediaq.errors import ValidationError
from mediaq.settings import Settings
from tests.integration.fleet import query
from tests.media_fixtures import make_video, run_inline, serve_folder


def _scan(settings: Settings) -> dict[str, int]:
    run = run_inline(settings, "scan", {})
    assert run.status == "completed", run.log
    rows = query(settings, "SELECT id, filename FROM videos")
    return {Path(r.filename).stem: r.id for r in rows}


def _save_colour_model(path: Path) -> Path:
    """A tiny linear model: 'reddish' when red dominates, 'bluish' when blue does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        labels=np.array(["reddish", "bluish"]),
        features=np.array(["red_mean", "blue_mean"]),
        weights=np.array([[12.0, -12.0], [-12.0, 12.0]]),
        bias=np.array([-1.0, -1.0]),
        threshold=np.array(0.5),
    )
    return path


def test_model_tagger_loads_a_local_model_and_its_tags_join_the_measured_ones(
    settings: Settings, tmp_path: Path
) -> None:
    root = Path(settings.library_root)
    make_video(root / "inbox" / "red.mp4", 1, 160, 90, source="red")
    make_video(root / "inbox" / "blue.mp4", 1, 160, 90, source="blue", audio=False)
    ids = _scan(settings)
    model = _save_colour_model(tmp_path / "colours.npz")
    red = run_inline(settings, "tag_generation", {"videoId": ids["red"], "model": str(model)})
    assert red.status == "completed", red.log
    assert red.result is not None and red.result["modelTags"] == ["reddish"]
    [row] = query(settings, "SELECT tags FROM videos WHERE id = :i", i=ids["red"])
    assert "reddish" in row.tags and "bluish" not in row.tags
    assert {"landscape", "short", "has-audio", "static", "single-shot"} <= set(row.tags)
    # No model param: the configured default location is used when a model is there.
    _save_colour_model(root / "models" / "tagger.npz")
    blue = run_inline(settings, "tag_generation", {"videoId": ids["blue"]})
    assert blue.result is not None and blue.result["modelTags"] == ["bluish"]
    assert "silent" in blue.result["tags"]
    broken = tmp_path / "broken.npz"
    np.savez(broken, labels=np.array(["x"]), features=np.array(["red_mean"]), weights=np.ones(3))
    bad = run_inline(settings, "tag_generation", {"videoId": ids["red"], "model": str(broken)})
    assert bad.status == "failed" and "InvalidParams" in bad.log


def test_highlights_follow_the_reaction_timeline_when_there_is_one(settings: Settings) -> None:
    make_video(Path(settings.library_root) / "inbox" / "talk.mp4", 8, 160, 120)
    vid = _scan(settings)["talk"]
    with transaction(settings.database_url) as session:
        media = session.execute(
            text(
                "INSERT INTO public_media (path, filename, category, video_id) "
                "VALUES ('/g/talk.mp4', 'talk.mp4', 'videos', :v) RETURNING id"
            ),
            {"v": vid},
        ).scalar_one()
        for t in (6, 6, 6, 7, 6, 1):
            session.execute(
                text(
                    "INSERT INTO video_reactions (user_id, media_id, reaction_type,"
                    " video_timestamp, created_at) VALUES (1, :m, 'love', :t, now())"
                ),
                {"m": media, "t": t},
            )
    run = run_inline(
        settings, "highlight_generate", {"videoId": vid, "count": 1, "segmentSeconds": 2}
    )
    assert run.status == "completed", run.log
    assert run.result is not None
    assert (run.result["basis"], run.result["reactions"]) == ("reactions", 6)
    [moment] = run.result["moments"]
    assert 4.5 <= moment["start"] <= 6.0 and moment["duration"] == 2.0
    assert abs(run.result["durationS"] - 2.0) < 0.15


def test_organizing_never_overwrites_an_existing_file(settings: Settings) -> None:
    root = Path(settings.library_root)
    make_video(root / "inbox" / "Acme - Trip.mp4", 1, 320, 240)
    make_video(root / "curated" / "Acme - Trip.mp4", 2, 320, 240)
    squatter = root / "studios" / "acme" / "acme-trip-240p.mp4"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"somebody else's file")
    run_inline(settings, "scan", {"root": str(root / "inbox")})
    run_inline(settings, "scan", {"root": str(root / "curated")})
    rows = query(settings, "SELECT id, path FROM videos ORDER BY id")
    ids = {Path(r.path).parent.name: r.id for r in rows}
    run = run_inline(settings, "organize_studio", {"videoIds": [ids["inbox"], ids["curated"]]})
    assert run.status == "completed", run.log
    assert squatter.read_bytes() == b"somebody else's file"
    names = sorted(p.name for p in squatter.parent.iterdir())
    assert names == ["acme-trip-240p-2.mp4", "acme-trip-240p-3.mp4", "acme-trip-240p.mp4"]
    after = {r.id: r for r in query(settings, "SELECT * FROM videos")}
    for key in ("inbox", "curated"):
        row = after[ids[key]]
        assert row.original_path == str(root.resolve() / key / "Acme - Trip.mp4")
        assert Path(row.path).is_file() and row.standardized_at is not None
    # Organizing again finds everything in place and moves nothing.
    again = run_inline(settings, "organize_studio", {"videoIds": [ids["inbox"], ids["curated"]]})
    assert again.result is not None and again.result["moved"] == []


@pytest.mark.parametrize("send_length", [True, False])
def test_fetch_stops_at_the_size_limit_and_leaves_nothing(
    settings: Settings, tmp_path: Path, send_length: bool
) -> None:
    served = tmp_path / "served"
    make_video(served / "big.mp4", 2, 640, 360, source="testsrc2")
    size = (served / "big.mp4").stat().st_size
    small = replace(settings, max_upload_size_gb=(size // 2) / 1024**3)
    Path(settings.library_root).mkdir(parents=True, exist_ok=True)
    with serve_folder(served, send_length) as base:
        run = run_inline(small, "fetch", {"url": f"{base}/big.mp4"})
        assert run.status == "failed"
        assert "over the limit" in run.log if send_length else "more than the limit" in run.log
        inbox = Path(settings.library_root) / "inbox"
        assert list(inbox.iterdir()) == []
        ok = run_inline(settings, "fetch", {"url": f"{base}/big.mp4"})
    assert ok.status == "completed", ok.log
    assert ok.result is not None and ok.result["sizeBytes"] == size
    assert [p.name for p in inbox.iterdir()] == ["big.mp4"]


def test_unpublishing_an_unlinked_gallery_item_moves_it_into_the_library_with_history(
    settings: Settings,
) -> None:
    gallery = Path(settings.public_root) / "funny"
    make_video(gallery / "cat.mp4", 1, 320, 240)
    scan = run_inline(settings, "public_scan", {})
    assert scan.status == "completed", scan.log
    [media] = query(settings, "SELECT * FROM public_media")
    assert media.video_id is None and media.category == "funny"
    with transaction(settings.database_url) as session:
        session.execute(text("UPDATE public_media SET view_count = 9, total_watch_time = 30"))
    run = run_inline(settings, "unpublish", {"mediaId": media.id})
    assert run.status == "completed", run.log
    [video] = query(settings, "SELECT * FROM videos")
    assert Path(video.path) == Path(settings.library_root).resolve() / "inbox" / "cat.mp4"
    assert (video.public_view_count, video.public_total_watch_time) == (9, 30)
    assert video.public_upvote_count == 0 and video.moved_from_public_at is not None
    assert not (gallery / "cat.mp4").exists()
    # Published again and taken out again: the history adds up.
    pub = run_inline(settings, "publish", {"videoId": video.id, "category": "funny"})
    assert pub.status == "completed", pub.log
    twice = run_inline(settings, "publish", {"videoId": video.id, "category": "funny"})
    assert twice.result is not None and twice.result["alreadyPublished"] is True
    with transaction(settings.database_url) as session:
        session.execute(text("UPDATE public_media SET view_count = 1"))
    run_inline(settings, "unpublish", {"videoId": video.id})
    [video] = query(settings, "SELECT * FROM videos")
    assert video.public_view_count == 10
    assert query(settings, "SELECT count(*) AS n FROM public_media")[0].n == 0


def test_bad_params_and_missing_files_fail_permanently(settings: Settings) -> None:
    make_video(Path(settings.library_root) / "inbox" / "one.mp4", 1, 160, 120)
    vid = _scan(settings)["one"]
    cases = [
        ("reencode_streaming", {"videoId": 999_999}, "does not exist"),
        ("generate_gif", {"videoId": vid, "start": 50}, "past the end"),
        ("scan", {"root": "/nonexistent/library"}, "not a directory"),
    ]
    # params the model refuses never reach a worker: refused at enqueue, no row written
    refused = [
        ("reencode_streaming", {"videoId": vid, "preset": "ludicrous"}, "params.preset"),
        ("clip_generate", {"videoId": vid, "start": 0}, "params.duration is required"),
        ("compile_quad", {"videoIds": [vid, vid, vid]}, "params.videoIds"),
        ("unpublish", {}, "mediaId or videoId"),
        ("unpublish", {"mediaId": "7"}, "params.mediaId"),
        ("fetch", {"url": "ftp://example.com/x.mp4"}, "params.url: must be http or https"),
    ]
    jobs_before = query(settings, "SELECT count(*) AS n FROM jobs")[0].n
    for job_type, params, message in refused:
        with pytest.raises(ValidationError, match=re.escape(message)):
            run_inline(settings, job_type, params)
    assert query(settings, "SELECT count(*) AS n FROM jobs")[0].n == jobs_before
    for job_type, params, message in cases:
        run = run_inline(settings, job_type, params)
        assert run.status == "failed", (job_type, run.log)
        assert message in run.log, (job_type, run.log)
        [row] = query(settings, "SELECT attempt, failures FROM jobs WHERE id = :i", i=run.job_id)
        assert row.attempt == 1  # permanent: not retried
    shutil.move(
        Path(settings.library_root) / "inbox" / "one.mp4", Path(settings.library_root) / "x"
    )
    gone = run_inline(settings, "generate_gif", {"videoId": vid})
    assert gone.status == "failed" and "UnreadableMedia" in gone.log
