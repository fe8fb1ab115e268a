"""Probing a media file with PyAV: duration, size, streams, rotation (one frame decoded)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av

from mediaq.errors import UnreadableMedia
from tasks.media.labels import orientation_label, quality_label


@dataclass(frozen=True)
class ProbeResult:
    """What a file holds; ``width``/``height`` as displayed (a 90° rotation is applied)."""

    duration_s: float
    width: int
    height: int
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    fps: float
    format_name: str
    rotation: int = 0

    @property
    def duration_seconds(self) -> int:
        """Whole seconds (the ``videos.duration_seconds`` column), rounded."""
        return round(self.duration_s)

    @property
    def quality(self) -> str:
        return quality_label(self.width, self.height)

    @property
    def orientation(self) -> str:
        return orientation_label(self.width, self.height)


def probe_file(path: str | Path) -> ProbeResult:
    """Probe ``path``; raise UnreadableMedia when it is not a decodable video."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _probe_container(container)
    except UnreadableMedia:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError, StopIteration) as exc:
        raise UnreadableMedia(f"{path}: not a readable video ({exc})") from exc


def _probe_container(container: av.container.InputContainer) -> ProbeResult:
    if not container.streams.video:
        raise UnreadableMedia(f"{container.name}: no video stream")
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    # Decoding the first frame proves the stream is readable and gives the display rotation.
    frame = next(container.decode(video=0))
    rotation = int(getattr(frame, "rotation", 0) or 0)
    width, height = frame.width, frame.height
    if abs(rotation) % 180 == 90:
        width, height = height, width
    duration = _duration_s(container, video)
    if width <= 0 or height <= 0 or duration <= 0:
        raise UnreadableMedia(f"{container.name}: no picture or no duration")
    rate = video.average_rate or video.base_rate
    return ProbeResult(
        duration_s=duration,
        width=width,
        height=height,
        has_audio=audio is not None,
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
        fps=float(rate) if rate else 0.0,
        format_name=container.format.name,
        rotation=rotation,
    )


def _duration_s(container: av.container.InputContainer, video: av.VideoStream) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if video.duration is not None and video.time_base is not None:
        seconds = float(video.duration * video.time_base)
        if math.isfinite(seconds):
            return seconds
    return 0.0
