"""``digest`` ``{videoId, secondsPerScene?, maxScenes?}``: a short preview, a few seconds of
each scene joined together."""

from __future__ import annotations

from typing import Any

from mediaq.jobparams import DigestParams
from tasks.context import JobContext
from tasks.media.assemble import join_moments
from tasks.media.jobio import describe_output, load_source
from tasks.media.moments import digest_moments
from tasks.media.outputs import output_path
from tasks.media.params import read_params
from tasks.media.scenes import detect_scenes


def run_digest(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, DigestParams)
    source = load_source(ctx, p.video_id)
    per_scene, max_scenes = p.seconds_per_scene, p.max_scenes
    scenes = detect_scenes(ctx, source.path, span=(0.0, 40.0))
    moments = digest_moments(scenes, source.duration_s, per_scene, max_scenes)
    ctx.log(f"digest of {len(scenes)} scene(s): {len(moments)} piece(s)")
    final = output_path(
        ctx.settings.output_root, "digests", source.title, source.video_id, ctx.job_id, ".mp4"
    )
    used = join_moments(ctx, source, moments, final, (40.0, 100.0))
    return {
        "videoId": source.video_id,
        "scenes": len(scenes),
        "pieces": [{"start": round(m.start, 3), "duration": round(m.duration, 3)} for m in moments],
        "encoder": used,
        **describe_output(final),
    }
