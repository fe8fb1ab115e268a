"""``scene_extract`` ``{videoId, threshold?}``: shot boundaries and one keyframe per scene."""

from __future__ import annotations

from typing import Any

from tasks.context import JobContext
from tasks.media.frames import extract_frame
from tasks.media.jobio import describe_output, load_source
from tasks.media.outputs import atomic_dir, output_path
from tasks.media.params import get_float, get_int, video_id
from tasks.media.scenes import DEFAULT_THRESHOLD, detect_scenes
from tasks.registry import handler


@handler("scene_extract")
def run_scene_extract(ctx: JobContext) -> dict[str, Any]:
    params = ctx.params
    source = load_source(ctx, video_id(params))
    threshold = get_float(params, "threshold", DEFAULT_THRESHOLD, 1.0, 100.0)
    width = get_int(params, "width", 480, 32, 1920)
    scenes = detect_scenes(ctx, source.path, threshold, span=(0.0, 80.0))
    ctx.log(f"{len(scenes)} scene(s) at threshold {threshold}")
    folder = output_path(
        ctx.settings.output_root, "scenes", source.title, source.video_id, ctx.job_id, ""
    )
    listed = []
    with atomic_dir(folder) as tmp:
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
