"""Reading pictures out of a video with PyAV: thumbnails, keyframes and small samples."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from mediaq.errors import UnreadableMedia

JPEG_QUALITY = 85
SAMPLE_SIZE = (64, 36)  # width, height of the small frames the measurements use


@dataclass(frozen=True)
class FramePair:
    """Two small RGB frames ``gap`` apart starting at ``time_s`` (for motion)."""

    time_s: float
    first: np.ndarray
    second: np.ndarray


@contextmanager
def _open(path: str | Path) -> Iterator[av.container.InputContainer]:
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableMedia(f"{path}: cannot open ({exc})") from exc
    try:
        yield container
    except av.FFmpegError as exc:  # a stream that opened but does not decode
        raise UnreadableMedia(f"{path}: cannot decode ({exc})") from exc
    finally:
        container.close()


def _frames_from(container: av.container.InputContainer, at_s: float) -> Iterator[av.VideoFrame]:
    """Decoded frames from ``at_s`` on (seek to the keyframe before, skip the lead-in)."""
    stream = container.streams.video[0]
    if at_s > 0:
        container.seek(int(at_s * av.time_base), backward=True, any_frame=False)
    for frame in container.decode(stream):
        when = frame.time if frame.time is not None else 0.0
        if when + 1e-3 >= at_s:
            yield frame


def _rotated(image: np.ndarray, rotation: int) -> np.ndarray:
    turn = rotation % 360
    if turn == 90:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if turn == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    if turn == 270:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    return image


def extract_frame(path: str | Path, at_s: float, dst: str | Path, width: int = 320) -> Path:
    """Write the frame at ``at_s`` as a JPEG ``width`` pixels wide (upright); return ``dst``."""
    with _open(path) as container:
        if not container.streams.video:
            raise UnreadableMedia(f"{path}: no video stream")
        frame = next(_frames_from(container, at_s), None)
        if frame is None:
            container.seek(0)
            frame = next(container.decode(video=0), None)
        if frame is None:
            raise UnreadableMedia(f"{path}: no frame to take a picture of")
        rotation = int(getattr(frame, "rotation", 0) or 0)
        height = max(2, round(frame.height * width / max(1, frame.width)))
        if abs(rotation) % 180 == 90:
            height = max(2, round(frame.width * width / max(1, frame.height)))
            image = frame.to_ndarray(width=height, height=width, format="bgr24")
        else:
            image = frame.to_ndarray(width=width, height=height, format="bgr24")
    image = _rotated(image, rotation)
    return write_jpeg(image, dst)


def write_jpeg(image: np.ndarray, dst: str | Path) -> Path:
    """Write a BGR image as JPEG atomically (a reader never sees half a file)."""
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part.jpg")
    if not cv2.imwrite(str(tmp), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {target}")
    os.replace(tmp, target)
    return target


def sample_pairs(path: str | Path, times: Sequence[float], gap_s: float = 0.5) -> list[FramePair]:
    """Small RGB frame pairs at each of ``times`` (``gap_s`` apart), for brightness/motion."""
    pairs: list[FramePair] = []
    width, height = SAMPLE_SIZE
    with _open(path) as container:
        if not container.streams.video:
            raise UnreadableMedia(f"{path}: no video stream")
        container.streams.video[0].thread_type = "AUTO"
        for at in times:
            first: np.ndarray | None = None
            start = at
            for frame in _frames_from(container, at):
                image = frame.to_ndarray(width=width, height=height, format="rgb24")
                if first is None:
                    first, start = image, frame.time or at
                    continue
                if (frame.time or 0.0) >= start + gap_s:
                    pairs.append(FramePair(at, first, image))
                    break
            else:
                if first is not None:
                    pairs.append(FramePair(at, first, first))
    return pairs
