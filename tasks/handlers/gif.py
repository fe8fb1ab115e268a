"""``generate_gif`` ``{videoId, start?, duration?, width?, fps?}``: a small palette GIF."""

from __future__ import annotations

from typing import Any

from mediaq.errors import InvalidParams
from tasks.context import JobContext
from tasks.media.ffargs import build_gif_argv
from tasks.media.ffmpeg import run_ffmpeg
from tasks.media.jobio import describe_output, load_source
from tasks.media.outputs import atomic_file, output_path
from tasks.media.params import get_float, get_int, video_id
from tasks.registry import handler

MAX_GIF_SECONDS = 30.0


@handler("generate_gif")
def run_generate_gif(ctx: JobContext) -> dict[str, Any]:
    params = ctx.params
    source = load_source(ctx, video_id(params))
    start = get_float(params, "start", 0.0, 0.0)
    if start >= source.duration_s:
        raise InvalidParams(f"start {start} is past the end ({source.duration_s:.2f} s)")
    wanted = get_float(params, "duration", 3.0, 0.1, MAX_GIF_SECONDS)
    duration = min(wanted, source.duration_s - start)
    width = get_int(params, "width", 320, 16, 1280)
    fps = get_int(params, "fps", 12, 1, 30)
    final = output_path(
        ctx.settings.output_root, "gifs", source.title, source.video_id, ctx.job_id, ".gif"
    )
    with atomic_file(final) as tmp:
        argv = build_gif_argv(str(source.path), str(tmp), start, duration, width, fps)
        run_ffmpeg(ctx, argv, duration, what="gif")
    return {"videoId": source.video_id, "start": start, "fps": fps, **describe_output(final)}
