"""Clips: ``clip_generate`` (encoded, frame-accurate), ``clip_extract_only`` (stream copy),
``highlight_generate`` (the best moments joined: from reactions, else scene changes + motion).
"""

from __future__ import annotations

from typing import Any

from mediaq.errors import InvalidParams
from mediaq.jobparams import ClipParams, HighlightParams
from tasks.context import JobContext
from tasks.media.assemble import join_moments
from tasks.media.catalog import reaction_timestamps
from tasks.media.encoders import encoder_for_job
from tasks.media.ffargs import VideoEncoder, build_clip_argv, build_extract_argv
from tasks.media.ffmpeg import run_encode, run_ffmpeg
from tasks.media.frames import sample_pairs
from tasks.media.jobio import Source, describe_output, load_source
from tasks.media.moments import pick_moments, reaction_points
from tasks.media.outputs import atomic_file, output_path
from tasks.media.params import read_params
from tasks.media.scenes import detect_scenes

MOTION_SAMPLES = 120
CUT_WEIGHT = 0.5  # a scene change counts like a stretch of strong motion


def _span(ctx: JobContext, source: Source) -> tuple[float, float]:
    p = read_params(ctx.params, ClipParams)
    start = p.start
    if start >= source.duration_s:
        raise InvalidParams(f"start {start} is past the end ({source.duration_s:.2f} s)")
    wanted = p.duration
    return start, min(wanted, source.duration_s - start)


def run_clip_generate(ctx: JobContext) -> dict[str, Any]:
    source = load_source(ctx, read_params(ctx.params, ClipParams).video_id)
    start, duration = _span(ctx, source)
    final = output_path(
        ctx.settings.output_root, "clips", source.title, source.video_id, ctx.job_id, ".mp4"
    )
    choice = encoder_for_job(ctx.gpu_uuid)
    with atomic_file(final, ctx) as tmp:

        def build(encoder: VideoEncoder) -> list[str]:
            return build_clip_argv(str(source.path), str(tmp), start, duration, encoder)

        used = run_encode(ctx, choice, build, duration, what="clip")
    return {
        "videoId": source.video_id,
        "start": start,
        "encoder": used.name,
        **describe_output(final),
    }


def run_clip_extract_only(ctx: JobContext) -> dict[str, Any]:
    """No encoding: the cut starts at the keyframe at or before ``start``."""
    source = load_source(ctx, read_params(ctx.params, ClipParams).video_id)
    start, duration = _span(ctx, source)
    final = output_path(
        ctx.settings.output_root, "clips", source.title, source.video_id, ctx.job_id, ".mp4"
    )
    with atomic_file(final, ctx) as tmp:
        argv = build_extract_argv(str(source.path), str(tmp), start, duration)
        run_ffmpeg(ctx, argv, duration, what="extract")
    return {"videoId": source.video_id, "start": start, "encoder": "copy", **describe_output(final)}


def _motion_points(ctx: JobContext, source: Source) -> list[tuple[float, float]]:
    """Scene changes and sampled motion as weighted points on the timeline."""
    duration = source.duration_s
    cuts = [start for start, _ in detect_scenes(ctx, source.path, span=(0.0, 40.0))[1:]]
    count = max(1, min(MOTION_SAMPLES, int(duration * 2)))
    times = [duration * (i + 0.5) / count for i in range(count)]
    ctx.check_cancelled()
    pairs = sample_pairs(source.path, times, gap_s=min(0.5, duration / (2 * count)))
    ctx.progress(50)
    points = [
        (p.time_s, float(abs(p.first.astype("float32") - p.second.astype("float32")).mean()) / 255)
        for p in pairs
    ]
    return points + [(t, CUT_WEIGHT) for t in cuts]


def run_highlight_generate(ctx: JobContext) -> dict[str, Any]:
    """``{videoId, count?, segmentSeconds?}``: the busiest moments, joined into one video."""
    p = read_params(ctx.params, HighlightParams)
    source = load_source(ctx, p.video_id)
    count = p.count
    length = p.segment_seconds
    length = min(length, source.duration_s / count)
    with ctx.session() as session:
        reactions = reaction_timestamps(session, source.video_id)
    if reactions:
        basis = "reactions"
        moments = pick_moments(reaction_points(reactions, length), source.duration_s, length, count)
    else:
        basis = "scenes_motion"
        moments = pick_moments(_motion_points(ctx, source), source.duration_s, length, count)
    ctx.log(
        f"highlights from {basis}: "
        + ", ".join(f"{m.start:.2f}+{m.duration:.2f}s" for m in moments)
    )
    final = output_path(
        ctx.settings.output_root, "highlights", source.title, source.video_id, ctx.job_id, ".mp4"
    )
    used = join_moments(ctx, source, moments, final, (60.0 if basis != "reactions" else 0.0, 100.0))
    return {
        "videoId": source.video_id,
        "basis": basis,
        "reactions": len(reactions),
        "moments": [
            {
                "start": round(m.start, 3),
                "duration": round(m.duration, 3),
                "score": round(m.score, 3),
            }
            for m in moments
        ],
        "encoder": used,
        **describe_output(final),
    }
