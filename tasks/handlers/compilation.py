"""Compilations: ``compilation`` (concatenate), ``compile_random`` (random stretches of random
videos), ``compile_quad`` (2×2 grid) and ``compile_quad_horizontal`` (side by side).

Every input is fitted (scaled and padded) to one frame size and rate. The output is recorded
in a ``compilations`` row with its source ids and settings.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert, select

from mediaq.errors import InvalidParams
from mediaq.models import DIRECTORY_TYPES, Compilation, Video
from tasks.context import JobContext
from tasks.media.encoders import encoder_for_job
from tasks.media.ffargs import Frame, Segment, VideoEncoder, build_concat_argv, build_grid_argv
from tasks.media.ffmpeg import run_encode
from tasks.media.jobio import Source, describe_output, load_sources
from tasks.media.outputs import atomic_file, output_path
from tasks.media.params import get_float, get_int, get_optional_str, video_ids
from tasks.registry import handler

DEFAULT_FPS = 30
RANDOM_POOL_LIMIT = 5000


def _frame(ctx: JobContext, first: Source, keys: tuple[str, str] = ("width", "height")) -> Frame:
    """The output (or cell) size: the params', else the first source's."""
    width = get_int(ctx.params, keys[0], first.probe.width, 16, 3840)
    height = get_int(ctx.params, keys[1], first.probe.height, 16, 2160)
    fps = get_int(ctx.params, "fps", DEFAULT_FPS, 1, 60)
    return Frame(width - width % 2, height - height % 2, fps)


def _encode_and_record(
    ctx: JobContext,
    kind: str,
    sources: Sequence[Source],
    build: Callable[[str, VideoEncoder], list[str]],
    duration: float,
    settings: dict[str, Any],
) -> dict[str, Any]:
    final = output_path(ctx.settings.output_root, "compilations", kind, None, ctx.job_id, ".mp4")
    choice = encoder_for_job(ctx.gpu_uuid)
    with atomic_file(final) as tmp:
        used = run_encode(ctx, choice, lambda enc: build(str(tmp), enc), duration, what=kind)
    try:
        output = describe_output(final)
        ids = [s.video_id for s in sources]
        with ctx.session() as session:
            compilation_id = session.execute(
                insert(Compilation)
                .values(
                    filename=final.name,
                    path=str(final),
                    duration_seconds=round(output["durationS"]),
                    video_ids=ids,
                    settings={"type": kind, "encoder": used.name, **settings},
                )
                .returning(Compilation.id)
            ).scalar_one()
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return {"compilationId": compilation_id, "videoIds": ids, "encoder": used.name, **output}


@handler("compilation")
def run_compilation(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds, width?, height?, fps?}``: the videos one after another."""
    sources = load_sources(ctx, video_ids(ctx.params))
    frame = _frame(ctx, sources[0])
    segments = [Segment(str(s.path), 0.0, s.duration_s, s.probe.has_audio) for s in sources]
    total = sum(s.duration_s for s in sources)
    return _encode_and_record(
        ctx,
        "compilation",
        sources,
        lambda dst, enc: build_concat_argv(segments, dst, frame, enc),
        total,
        {"layout": "concat", "width": frame.width, "height": frame.height, "fps": frame.fps},
    )


def _random_pool(ctx: JobContext) -> list[int]:
    if ctx.params.get("videoIds") is not None:
        return video_ids(ctx.params, maximum=RANDOM_POOL_LIMIT)
    orientation = get_optional_str(ctx.params, "orientation", 20)
    directory = get_optional_str(ctx.params, "directoryType", 20)
    if directory is not None and directory not in DIRECTORY_TYPES:
        raise InvalidParams(f"directoryType must be one of {', '.join(DIRECTORY_TYPES)}")
    query = select(Video.id).where(Video.is_valid.is_not(False)).order_by(Video.id)
    if orientation is not None:
        query = query.where(Video.orientation == orientation)
    if directory is not None:
        query = query.where(Video.directory_type == directory)
    with ctx.session() as session:
        return [int(i) for i in session.scalars(query.limit(RANDOM_POOL_LIMIT))]


@handler("compile_random")
def run_compile_random(ctx: JobContext) -> dict[str, Any]:
    """``{count?, clipSeconds?, seed?, videoIds? | orientation?, directoryType?, ...}``:
    a random stretch of each of ``count`` randomly chosen videos."""
    count = get_int(ctx.params, "count", 4, 1, 50)
    clip = get_float(ctx.params, "clipSeconds", 5.0, 0.2, 600.0)
    seed = get_int(ctx.params, "seed", ctx.job_id)
    pool = _random_pool(ctx)
    if not pool:
        raise InvalidParams("no videos to choose from")
    rng = random.Random(seed)
    chosen = rng.sample(pool, min(count, len(pool)))
    sources = load_sources(ctx, chosen)
    segments, picks = [], []
    for source in sources:
        length = min(clip, source.duration_s)
        start = round(rng.uniform(0.0, source.duration_s - length), 3)
        segments.append(Segment(str(source.path), start, length, source.probe.has_audio))
        picks.append({"videoId": source.video_id, "start": start, "duration": length})
    frame = _frame(ctx, sources[0])
    result = _encode_and_record(
        ctx,
        "compile_random",
        sources,
        lambda dst, enc: build_concat_argv(segments, dst, frame, enc),
        sum(float(p["duration"]) for p in picks),
        {
            "layout": "concat",
            "seed": seed,
            "clips": picks,
            "width": frame.width,
            "height": frame.height,
            "fps": frame.fps,
        },
    )
    return {**result, "clips": picks, "seed": seed}


def _grid(ctx: JobContext, kind: str, layout: str, sources: list[Source]) -> dict[str, Any]:
    cell = _frame(ctx, sources[0], ("cellWidth", "cellHeight"))
    shortest = min(s.duration_s for s in sources)
    duration = min(get_float(ctx.params, "duration", shortest, 0.1), shortest)
    segments = [Segment(str(s.path), 0.0, None, s.probe.has_audio) for s in sources]
    columns = 2 if layout == "quad" else len(sources)
    rows = 2 if layout == "quad" else 1
    return _encode_and_record(
        ctx,
        kind,
        sources,
        lambda dst, enc: build_grid_argv(segments, dst, cell, duration, enc, layout),
        duration,
        {
            "layout": layout,
            "cellWidth": cell.width,
            "cellHeight": cell.height,
            "width": cell.width * columns,
            "height": cell.height * rows,
            "fps": cell.fps,
        },
    )


@handler("compile_quad")
def run_compile_quad(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds: [4], cellWidth?, cellHeight?, fps?, duration?}``: a 2×2 grid."""
    sources = load_sources(ctx, video_ids(ctx.params, minimum=4, maximum=4))
    return _grid(ctx, "compile_quad", "quad", sources)


@handler("compile_quad_horizontal")
def run_compile_quad_horizontal(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds: [2-4], cellWidth?, cellHeight?, fps?, duration?}``: side by side."""
    sources = load_sources(ctx, video_ids(ctx.params, minimum=2, maximum=4))
    return _grid(ctx, "compile_quad_horizontal", "horizontal", sources)
