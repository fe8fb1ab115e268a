"""Every media job type through the real queue (scheduler thread + worker daemon + Celery),
on clips generated with ffmpeg's test sources; outputs are checked with ffprobe."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import pytest
from sqlalchemy import text

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.jobcontrol import cancel_job
from mediaq.settings import Settings
from tests.integration.fleet import fleet, query, wait_until
from tests.media_fixtures import (
    duration_of,
    ffprobe,
    has_audio_stream,
    make_scenes_video,
    make_video,
    serve_folder,
    video_stream,
)

TERMINAL = ("completed", "failed", "cancelled")
FAKE_GPU = {"fake_gpus": (24576,)}


def enqueue_jobs(settings: Settings, specs: Sequence[JobSpec]) -> list[int]:
    with transaction(settings.database_url) as session:
        return enqueue_many(session, list(specs))


def wait_completed(settings: Settings, ids: Sequence[int], timeout: float) -> dict[int, Any]:
    """Wait until every job ended; fail with the logs of any that did not complete."""

    def rows() -> list[Any]:
        return query(
            settings,
            "SELECT id, type, status, result, log FROM jobs WHERE id = ANY(:i)",
            i=list(ids),
        )

    wait_until(lambda: all(r.status in TERMINAL for r in rows()), timeout, what="jobs to end")
    done = {r.id: r for r in rows()}
    bad = [
        f"#{r.id} {r.type} {r.status}:\n{r.log}" for r in done.values() if r.status != "completed"
    ]
    assert not bad, "\n\n".join(bad)
    return done


def check_video(path: str, seconds: float, width: int, height: int, audio: bool = True) -> None:
    info = ffprobe(Path(path))
    stream = video_stream(info)
    assert stream["codec_name"] == "h264", path
    assert (stream["width"], stream["height"]) == (width, height), path
    assert abs(duration_of(info) - seconds) <= 0.15, (path, duration_of(info))
    assert has_audio_stream(info) is audio, path
    assert info["format"]["format_name"].startswith("mov,mp4"), path


def scan_through_queue(settings: Settings) -> dict[str, int]:
    [scan] = enqueue_jobs(settings, [JobSpec("scan")])
    wait_completed(settings, [scan], 60)
    return {Path(r.filename).stem: r.id for r in query(settings, "SELECT id, filename FROM videos")}


@pytest.fixture
def clips(settings: Settings) -> None:
    root = Path(settings.library_root) / "inbox"
    make_video(root / "alpha.mp4", 2, 320, 240)
    make_video(root / "beta.mp4", 2, 320, 240, source="testsrc2")
    make_video(root / "quiet.mp4", 2, 240, 240, audio=False, source="smptebars")
    make_scenes_video(root / "cuts.mp4", ["testsrc", "smptebars", "red"], 1.0)


def test_every_encoding_job_type_produces_valid_media(
    settings: Settings, tmp_path: Path, clips: None
) -> None:
    with fleet(settings, tmp_path, worker_overrides=[FAKE_GPU]):
        v = scan_through_queue(settings)
        a, b, q, c = v["alpha"], v["beta"], v["quiet"], v["cuts"]
        specs = {
            "reencode": JobSpec("reencode_streaming", {"videoId": a, "hls": True}),
            "reencode_cpu": JobSpec("reencode_streaming", {"videoId": q}, resource_category="cpu"),
            "gif": JobSpec(
                "generate_gif", {"videoId": a, "start": 0.5, "duration": 1, "width": 160}
            ),
            "clip": JobSpec("clip_generate", {"videoId": b, "start": 0.5, "duration": 1}),
            "extract": JobSpec("clip_extract_only", {"videoId": a, "start": 1, "duration": 1}),
            "highlight": JobSpec(
                "highlight_generate", {"videoId": c, "count": 2, "segmentSeconds": 0.5}
            ),
            "digest": JobSpec("digest", {"videoId": c, "secondsPerScene": 0.5}),
            "scenes": JobSpec("scene_extract", {"videoId": c}),
            "tags": JobSpec("tag_generation", {"videoId": q}),
            "thumb": JobSpec("thumbnail", {"videoId": b, "at": 1.5, "width": 200}),
            "concat": JobSpec("compilation", {"videoIds": [a, q]}),
            "random": JobSpec(
                "compile_random", {"videoIds": [a, b, c], "count": 2, "clipSeconds": 1, "seed": 3}
            ),
            "quad": JobSpec("compile_quad", {"videoIds": [a, b, c, a]}),
            "side": JobSpec("compile_quad_horizontal", {"videoIds": [a, q]}),
        }
        names = list(specs)
        ids = enqueue_jobs(settings, [specs[n] for n in names])
        done = wait_completed(settings, ids, 150)
    out = {n: done[i].result for n, i in zip(names, ids, strict=True)}
    logs = {n: done[i].log for n, i in zip(names, ids, strict=True)}

    check_video(out["reencode"]["path"], 2.0, 320, 240)
    # The GPU job held a (fake) GPU, NVENC failed its trial here, so software encoding ran.
    assert "h264_nvenc failed its trial" in logs["reencode"]
    assert out["reencode"]["encoder"] == "libx264"
    playlist = Path(out["reencode"]["hls"])
    entries = [ln for ln in playlist.read_text().splitlines() if ln and not ln.startswith("#")]
    assert "#EXT-X-ENDLIST" in playlist.read_text() and entries
    assert all((playlist.parent / name).is_file() for name in entries)  # relative, renamed dir
    check_video(out["reencode_cpu"]["path"], 2.0, 240, 240, audio=False)
    assert "encoder libx264 (software): the job holds no GPU" in logs["reencode_cpu"]

    gif = ffprobe(Path(out["gif"]["path"]))
    assert gif["format"]["format_name"] == "gif"
    assert (video_stream(gif)["width"], video_stream(gif)["height"]) == (160, 120)
    assert abs(duration_of(gif) - 1.0) <= 0.15

    check_video(out["clip"]["path"], 1.0, 320, 240)
    check_video(out["extract"]["path"], 1.0, 320, 240)
    check_video(out["highlight"]["path"], 1.0, 320, 240)
    assert out["highlight"]["basis"] == "scenes_motion"
    check_video(out["digest"]["path"], 1.5, 320, 240)
    assert out["digest"]["scenes"] == 3

    scenes = out["scenes"]["scenes"]
    assert [(s["start"], s["end"]) for s in scenes] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    for scene in scenes:
        assert cv2.imread(scene["keyframe"]) is not None
    red = cv2.imread(scenes[2]["keyframe"])
    assert red[..., 2].mean() > 200 and red[..., 1].mean() < 60  # the red shot (BGR)

    [row] = query(settings, "SELECT tags FROM videos WHERE id = :i", i=q)
    assert {"240p", "square", "short", "silent"} <= set(row.tags)
    assert cv2.imread(out["thumb"]["thumbnailPath"]).shape[1] == 200

    check_video(out["concat"]["path"], 4.0, 320, 240)
    check_video(out["random"]["path"], 2.0, 320, 240)
    check_video(out["quad"]["path"], 2.0, 640, 480)
    check_video(out["side"]["path"], 2.0, 640, 240)
    rows = query(settings, "SELECT id, video_ids, settings, duration_seconds FROM compilations")
    by_id = {r.id: r for r in rows}
    assert len(rows) == 4
    assert by_id[out["quad"]["compilationId"]].video_ids == [a, b, c, a]
    assert by_id[out["quad"]["compilationId"]].settings["layout"] == "quad"
    assert by_id[out["concat"]["compilationId"]].duration_seconds == 4


def test_library_jobs_fetch_organize_pipeline_publish_and_unpublish(
    settings: Settings, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    make_video(served / "remote clip.mp4", 2, 320, 240, source="testsrc2")
    (served / "notes.txt").write_text("not a video\n" * 100)
    inbox = Path(settings.library_root) / "inbox"
    make_video(inbox / "Acme - Beach Day.mp4", 2, 320, 240)
    make_video(inbox / "loose clip.mp4", 1, 240, 320)
    with serve_folder(served) as base, fleet(settings, tmp_path, worker_overrides=[FAKE_GPU]):
        v = scan_through_queue(settings)
        acme, loose = v["Acme - Beach Day"], v["loose clip"]
        ok, text_file, studio, plain = enqueue_jobs(
            settings,
            [
                JobSpec("fetch", {"url": f"{base}/remote%20clip.mp4"}),
                JobSpec("fetch", {"url": f"{base}/notes.txt"}),
                JobSpec("organize_studio", {"videoIds": [acme]}),
                JobSpec("organize", {"videoIds": [loose]}),
            ],
        )
        wait_until(
            lambda: (
                query(
                    settings,
                    "SELECT count(*) AS n FROM jobs WHERE status IN "
                    "('completed','failed','cancelled')",
                )[0].n
                == 5
            ),
            90,
            what="library jobs",
        )
        done = {r.id: r for r in query(settings, "SELECT * FROM jobs")}
        assert done[text_file].status == "failed" and done[text_file].attempt == 1  # not retried
        assert "UnreadableMedia" in done[text_file].log
        assert not [p for p in inbox.iterdir() if p.name.startswith(".")]  # no partial download
        fetched = done[ok].result
        assert done[ok].status == "completed", done[ok].log
        check_video(fetched["path"], 2.0, 320, 240)
        assert Path(fetched["path"]).parent == inbox.resolve()

        rows = {r.id: r for r in query(settings, "SELECT * FROM videos")}
        assert done[studio].status == done[plain].status == "completed"
        moved = rows[acme]
        assert Path(moved.path).relative_to(Path(settings.library_root).resolve()).parts == (
            "studios",
            "acme",
            "acme-beach-day-240p.mp4",
        )
        assert (moved.original_filename, moved.directory_type) == (
            "Acme - Beach Day.mp4",
            "studios",
        )
        assert moved.standardized_at is not None and Path(moved.path).is_file()
        assert not (inbox / "Acme - Beach Day.mp4").exists()
        assert Path(rows[loose].path).name == "unknown-loose-clip-240p.mp4"
        assert rows[fetched["videoId"]].directory_type == "inbox"

        [pipeline_job] = enqueue_jobs(
            settings,
            [
                JobSpec(
                    "auto_organize_publish", {"videoId": fetched["videoId"], "category": "Best Of"}
                )
            ],
        )
        [pipeline] = wait_completed(settings, [pipeline_job], 30).values()
        steps = wait_completed(settings, pipeline.result["jobIds"], 120)
        assert [s.type for s in sorted(steps.values(), key=lambda s: s.id)] == [
            "organize_studio",
            "tag_generation",
            "reencode_streaming",
            "publish",
        ]
        [media] = query(settings, "SELECT * FROM public_media")
        assert (media.video_id, media.category) == (fetched["videoId"], "best-of")
        reencoded = next(s for s in steps.values() if s.type == "reencode_streaming")
        assert Path(media.path).read_bytes() == Path(reencoded.result["path"]).read_bytes()
        check_video(media.path, 2.0, 320, 240)
        assert query(settings, "SELECT tags FROM videos WHERE id = :i", i=fetched["videoId"])[
            0
        ].tags

        [rescan] = enqueue_jobs(settings, [JobSpec("public_scan")])
        assert wait_completed(settings, [rescan], 30)[rescan].result["unchanged"] == 1
        with transaction(settings.database_url) as session:
            session.execute(
                text(
                    "UPDATE public_media SET view_count = 41, upvote_count = 3, comment_count = 2,"
                    " finish_count = 5, total_watch_time = 77"
                )
            )
        [gone] = enqueue_jobs(settings, [JobSpec("unpublish", {"videoId": fetched["videoId"]})])
        wait_completed(settings, [gone], 30)
    assert query(settings, "SELECT count(*) AS n FROM public_media")[0].n == 0
    assert not Path(media.path).exists()
    [row] = query(settings, "SELECT * FROM videos WHERE id = :i", i=fetched["videoId"])
    history = (
        row.public_view_count,
        row.public_upvote_count,
        row.public_comment_count,
        row.public_completion_count,
        row.public_total_watch_time,
    )
    assert history == (41, 3, 2, 5, 77)
    assert row.moved_from_public_at is not None


def _ffmpeg_pids(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"ffmpeg")
            and any(marker.encode() in a for a in cmdline)
        ):
            pids.append(int(entry.name))
    return pids


def test_cancelling_a_running_reencode_ends_ffmpeg_within_5_s_and_leaves_no_output(
    settings: Settings, tmp_path: Path
) -> None:
    make_video(Path(settings.library_root) / "long.mp4", 20, 1280, 720, source="testsrc2")
    playback = Path(settings.output_root) / "playback"
    with fleet(settings, tmp_path, worker_overrides=[FAKE_GPU]):
        v = scan_through_queue(settings)
        with transaction(settings.database_url) as session:
            job = enqueue(
                session, JobSpec("reencode_streaming", {"videoId": v["long"], "preset": "veryslow"})
            )
        wait_until(lambda: _ffmpeg_pids(str(playback)), 60, what="ffmpeg running")
        wait_until(
            lambda: (
                query(settings, "SELECT progress FROM jobs WHERE id = :i", i=job)[0].progress > 0
            ),
            60,
            what="progress reported",
        )
        # the attempt writes under a temporary name of its own (attempt 1)
        assert [p.name for p in playback.iterdir()] == [f".long-v{v['long']}-j{job}.a1.part.mp4"]
        pids = _ffmpeg_pids(str(playback))
        assert pids
        with transaction(settings.database_url) as session:
            cancel_job(session, job)
        started = time.monotonic()
        wait_until(
            lambda: not any(Path(f"/proc/{p}").exists() for p in pids), 5, what="ffmpeg gone"
        )
        ended_after = time.monotonic() - started
        wait_until(lambda: not list(playback.iterdir()), 5, what="partial output removed")
        assert (
            query(settings, "SELECT status FROM jobs WHERE id = :i", i=job)[0].status == "cancelled"
        )
    assert ended_after <= 5.0
