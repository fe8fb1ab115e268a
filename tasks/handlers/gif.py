"""``generate_gif`` ``{videoId, start?, duration?, width?, fps?}``: a small palette GIF."""

from __future__ import annotations

from typing import Any

from mediaq.errors import InvalidParams
from mediaq.jobparams import GifParams
from tasks.context import JobContext
from tasks.media.ffargs import build_gif_argv
from tasks.media.ffmpeg import run_ffmpeg
from tasks.media.jobio import describe_output, load_source
from tasks.media.outputs import atomic_file, output_path
from tasks.media.params import read_params


def run_generate_gif(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, GifParams)
    source = load_source(ctx, p.video_id)
    start = p.start
    if start >= source.duration_s:
        raise InvalidParams(f"start {start} is past the end ({source.duration_s:.2f} s)")
    wanted = p.duration
    duration = min(wanted, source.duration_s - start)
    width, fps = p.width, p.fps
    final = output_path(
        ctx.settings.output_root, "gifs", source.title, source.video_id, ctx.job_id, ".gif"
    )
    with atomic_file(final, ctx) as tmp:
        argv = build_gif_argv(str(source.path), str(tmp), start, duration, width, fps)
        run_ffmpeg(ctx, argv, duration, what="gif")
    return {"videoId": source.video_id, "start": start, "fps": fps, **describe_output(final)}
