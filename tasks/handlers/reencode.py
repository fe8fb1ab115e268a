"""``reencode_streaming`` ``{videoId, hls?, preset?, crf?, maxHeight?}``: H.264/AAC for the web.

MP4 with the index up front (faststart), optionally repackaged as an HLS playlist. NVENC when
the job holds a GPU and NVENC works here, libx264 otherwise; the log says which. Written
under a temp name and renamed, so a cancel or failure leaves no partial output.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mediaq.jobparams import ReencodeParams
from tasks.context import JobContext
from tasks.media.encoders import encoder_for_job
from tasks.media.ffargs import (
    VideoEncoder,
    build_hls_argv,
    build_reencode_argv,
)
from tasks.media.ffmpeg import run_encode, run_ffmpeg
from tasks.media.jobio import describe_output, load_source
from tasks.media.outputs import atomic_dir, atomic_file, output_path
from tasks.media.params import read_params

HLS_SHARE = 10.0  # percent of the progress bar the HLS repackaging takes


def run_reencode(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, ReencodeParams)
    source = load_source(ctx, p.video_id)
    preset, crf, hls = p.preset, p.crf, p.hls
    max_height = p.max_height or None
    final = output_path(
        ctx.settings.output_root, "playback", source.title, source.video_id, ctx.job_id, ".mp4"
    )
    span = (0.0, 100.0 - HLS_SHARE if hls else 100.0)
    choice = encoder_for_job(ctx.gpu_uuid, preset, crf)
    with atomic_file(final, ctx) as tmp:

        def build(encoder: VideoEncoder) -> list[str]:
            return build_reencode_argv(str(source.path), str(tmp), encoder, max_height)

        used = run_encode(ctx, choice, build, source.duration_s, span, "re-encode")
    result: dict[str, Any] = {"videoId": source.video_id, "encoder": used.name}
    try:
        if hls:
            result["hls"] = str(_package_hls(ctx, final, source.duration_s))
        result.update(describe_output(final))
    except BaseException:
        # The job did not finish: its MP4 goes too, so nothing half-done stays behind.
        final.unlink(missing_ok=True)
        raise
    return result


def _package_hls(ctx: JobContext, mp4: Path, duration_s: float) -> Path:
    folder = mp4.with_name(f"{mp4.stem}-hls")
    try:
        with atomic_dir(folder, ctx) as tmp:
            argv = build_hls_argv(str(mp4), str(tmp / "index.m3u8"), str(tmp / "segment_%04d.ts"))
            run_ffmpeg(ctx, argv, duration_s, (100.0 - HLS_SHARE, 100.0), "hls")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder / "index.m3u8"
