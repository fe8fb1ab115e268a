"""``scene_extract`` ``{videoId, threshold?}``: shot boundaries and one keyframe per scene."""

from __future__ import annotations

from typing import Any

from mediaq.jobparams import SceneParams
from tasks.context import JobContext
from tasks.media.frames import extract_frame
from tasks.media.jobio import describe_output, load_source
from tasks.media.outputs import atomic_dir, output_path
from tasks.media.params import read_params
from tasks.media.scenes import detect_scenes


def run_scene_extract(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, SceneParams)
    source = load_source(ctx, p.video_id)
    threshold, width = p.threshold, p.width
    scenes = detect_scenes(ctx, source.path, threshold, span=(0.0, 80.0))
    ctx.log(f"{len(scenes)} scene(s) at threshold {threshold}")
    folder = output_path(
        ctx.settings.output_root, "scenes", source.title, source.video_id, ctx.job_id, ""
    )
    listed = []
    with atomic_dir(folder, ctx) as tmp:
        for index, (start, end) in enumerate(scenes, start=1):
            ctx.check_cancelled()
            # The middle of the shot: past any transition at either end.
            middle = start + (end - start) / 2
            name = f"scene-{index:03d}.jpg"
            extract_frame(source.path, middle, tmp / name, width)
            listed.append({"index": index, "start": start, "end": end, "keyframe": name})
            ctx.progress(80 + 20 * index / len(scenes))
    for scene in listed:
        scene["keyframe"] = str(folder / str(scene["keyframe"]))
    return {
        "videoId": source.video_id,
        "count": len(listed),
        "scenes": listed,
        "folder": str(folder),
        "source": describe_output(source.path),
    }
