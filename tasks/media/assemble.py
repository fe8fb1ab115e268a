"""Putting pieces of videos together: moments of one source joined into one output."""

from __future__ import annotations

from pathlib import Path

from tasks.context import JobContext
from tasks.media.encoders import encoder_for_job
from tasks.media.ffargs import Frame, Segment, VideoEncoder, build_concat_argv
from tasks.media.ffmpeg import run_encode
from tasks.media.jobio import Source
from tasks.media.moments import Moment
from tasks.media.outputs import atomic_file


def join_moments(
    ctx: JobContext,
    source: Source,
    moments: list[Moment],
    final: Path,
    span: tuple[float, float],
) -> str:
    """Cut ``moments`` out of ``source`` and join them at the source's size."""
    segments = [
        Segment(str(source.path), m.start, m.duration, source.probe.has_audio) for m in moments
    ]
    fps = max(1, min(60, round(source.probe.fps or 25)))
    frame = Frame(source.probe.width, source.probe.height, fps)
    total = sum(m.duration for m in moments)
    choice = encoder_for_job(ctx.gpu_uuid)
    with atomic_file(final, ctx) as tmp:

        def build(encoder: VideoEncoder) -> list[str]:
            return build_concat_argv(segments, str(tmp), frame, encoder)

        used = run_encode(ctx, choice, build, total, span, "join")
    return used.name
