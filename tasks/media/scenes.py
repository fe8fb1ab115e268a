"""Shot boundaries with PySceneDetect (content detector over the PyAV backend).

Detection runs in slices of ``CHUNK_S`` seconds of video so that a cancel is noticed and
progress reported between slices.
"""

from __future__ import annotations

from pathlib import Path

from scenedetect import ContentDetector, SceneManager, open_video
from scenedetect.video_stream import VideoOpenFailure

from mediaq.errors import UnreadableMedia
from mediaq.jobparams import DEFAULT_SCENE_THRESHOLD as DEFAULT_THRESHOLD
from tasks.context import JobContext

CHUNK_S = 10.0
MIN_SCENE_S = 0.4


def detect_scenes(
    ctx: JobContext,
    path: Path,
    threshold: float = DEFAULT_THRESHOLD,
    span: tuple[float, float] = (0.0, 100.0),
) -> list[tuple[float, float]]:
    """Scenes as (start, end) seconds covering the whole video (one scene when no cut)."""
    try:
        video = open_video(str(path), backend="pyav")
    except (VideoOpenFailure, OSError) as exc:
        raise UnreadableMedia(f"{path}: cannot read for scene detection ({exc})") from exc
    duration = float(video.duration.seconds) if video.duration is not None else 0.0
    fps = float(video.frame_rate) or 25.0
    manager = SceneManager()
    manager.add_detector(
        ContentDetector(threshold=threshold, min_scene_len=max(1, round(MIN_SCENE_S * fps)))
    )
    low, high = span
    position = 0.0
    while True:
        ctx.check_cancelled()
        position += CHUNK_S
        processed = manager.detect_scenes(video, end_time=position)
        if duration > 0:
            ctx.progress(low + (high - low) * min(1.0, position / duration))
        if processed == 0 or (duration > 0 and position >= duration):
            break
    scenes = manager.get_scene_list(start_in_scene=True)
    result = [(round(s.seconds, 3), round(e.seconds, 3)) for s, e in scenes]
    return result or [(0.0, round(duration, 3))]
