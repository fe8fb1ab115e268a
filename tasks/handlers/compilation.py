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
from mediaq.jobparams import (
    RANDOM_POOL_LIMIT,
    CompilationParams,
    CompileRandomParams,
    FrameParams,
    GridParams,
    QuadHorizontalParams,
    QuadParams,
)
from mediaq.models import Compilation, Video
from tasks.context import JobContext
from tasks.media.encoders import encoder_for_job
from tasks.media.ffargs import Frame, Segment, VideoEncoder, build_concat_argv, build_grid_argv
from tasks.media.ffmpeg import run_encode
from tasks.media.jobio import Source, describe_output, load_sources
from tasks.media.outputs import atomic_file, output_path
from tasks.media.params import read_params


def _frame(p: FrameParams | GridParams, first: Source) -> Frame:
    """The output (or cell) size: the params', else the first source's."""
    given = (p.width, p.height) if isinstance(p, FrameParams) else (p.cell_width, p.cell_height)
    width = given[0] if given[0] is not None else first.probe.width
    height = given[1] if given[1] is not None else first.probe.height
    fps = p.fps
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
    with atomic_file(final, ctx) as tmp:
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


def run_compilation(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds, width?, height?, fps?}``: the videos one after another."""
    p = read_params(ctx.params, CompilationParams)
    sources = load_sources(ctx, p.video_ids)
    frame = _frame(p, sources[0])
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


def _random_pool(ctx: JobContext, p: CompileRandomParams) -> list[int]:
    if p.video_ids is not None:
        return p.video_ids
    orientation, directory = p.orientation, p.directory_type
    query = select(Video.id).where(Video.is_valid.is_not(False)).order_by(Video.id)
    if orientation is not None:
        query = query.where(Video.orientation == orientation)
    if directory is not None:
        query = query.where(Video.directory_type == directory)
    with ctx.session() as session:
        return [int(i) for i in session.scalars(query.limit(RANDOM_POOL_LIMIT))]


def run_compile_random(ctx: JobContext) -> dict[str, Any]:
    """``{count?, clipSeconds?, seed?, videoIds? | orientation?, directoryType?, ...}``:
    a random stretch of each of ``count`` randomly chosen videos."""
    p = read_params(ctx.params, CompileRandomParams)
    count, clip = p.count, p.clip_seconds
    seed = p.seed if p.seed is not None else ctx.job_id
    pool = _random_pool(ctx, p)
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
    frame = _frame(p, sources[0])
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


def _grid(
    ctx: JobContext, p: GridParams, kind: str, layout: str, sources: list[Source]
) -> dict[str, Any]:
    cell = _frame(p, sources[0])
    shortest = min(s.duration_s for s in sources)
    duration = min(p.duration if p.duration is not None else shortest, shortest)
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


def run_compile_quad(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds: [4], cellWidth?, cellHeight?, fps?, duration?}``: a 2×2 grid."""
    p = read_params(ctx.params, QuadParams)
    return _grid(ctx, p, "compile_quad", "quad", load_sources(ctx, p.video_ids))


def run_compile_quad_horizontal(ctx: JobContext) -> dict[str, Any]:
    """``{videoIds: [2-4], cellWidth?, cellHeight?, fps?, duration?}``: side by side."""
    p = read_params(ctx.params, QuadHorizontalParams)
    return _grid(ctx, p, "compile_quad_horizontal", "horizontal", load_sources(ctx, p.video_ids))
