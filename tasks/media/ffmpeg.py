"""Running ffmpeg for a job: its own process group, parsed progress, stderr tail in the log."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace

from tasks.context import JobContext
from tasks.media.encoders import EncoderChoice
from tasks.media.ffargs import NVENC_H264, SOFTWARE_H264, VideoEncoder
from tasks.media.progress import FfmpegProgress, is_progress_line

LOG_TAIL_LINES = 20


class FfmpegFailed(RuntimeError):
    """ffmpeg exited with an error (transient: the job is retried with backoff)."""


def run_ffmpeg(
    ctx: JobContext,
    argv: Sequence[str],
    duration_s: float,
    span: tuple[float, float] = (0.0, 100.0),
    what: str = "ffmpeg",
) -> None:
    """Run ``argv`` under ``ctx`` and map its progress onto ``span`` of the job's progress.

    A cancel ends ffmpeg's process group (``JobContext.run``) and raises JobCancelled here.
    """
    progress = FfmpegProgress(duration_s)
    messages: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    low, high = span

    def on_line(line: str) -> None:
        if is_progress_line(line):
            percent = progress.feed(line)
            if percent is not None:
                ctx.progress(low + (high - low) * percent / 100.0)
        elif line.strip():
            messages.append(line.strip())

    result = ctx.run(argv, on_line=on_line, stdout_lines=True)
    if messages:
        ctx.log(f"{what} said:\n" + "\n".join(messages))
    if result.returncode != 0:
        detail = " | ".join(list(messages)[-3:]) or f"exit status {result.returncode}"
        raise FfmpegFailed(f"{what} failed (exit {result.returncode}): {detail}")
    if progress.speed is not None:
        ctx.log(f"{what}: done at {progress.speed:.2f}x real time")


def run_encode(
    ctx: JobContext,
    choice: EncoderChoice,
    build: Callable[[VideoEncoder], Sequence[str]],
    duration_s: float,
    span: tuple[float, float] = (0.0, 100.0),
    what: str = "encode",
) -> VideoEncoder:
    """Encode with the chosen encoder; when NVENC fails (sessions exhausted, driver gone),
    log it and encode again in software. Returns the encoder that produced the output."""
    ctx.log(choice.reason)
    try:
        run_ffmpeg(ctx, build(choice.encoder), duration_s, span, what)
        return choice.encoder
    except FfmpegFailed as exc:
        if not choice.encoder.is_hardware:
            raise
        ctx.log(f"{NVENC_H264} failed ({exc}); encoding again with {SOFTWARE_H264}")
    software = replace(choice.encoder, name=SOFTWARE_H264)
    run_ffmpeg(ctx, build(software), duration_s, span, what)
    return software
