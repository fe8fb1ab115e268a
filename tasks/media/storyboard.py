"""Seek-preview storyboards (pure): which frame goes where, the ffmpeg filter, the WebVTT track.

One frame every ``interval`` seconds, ``width`` pixels wide, tiled ``columns`` x ``rows`` per
JPEG sprite sheet (``sprite-001.jpg``, ...). The WebVTT thumbnails track names, for each
interval, the sheet and the rectangle of its frame (``sprite-001.jpg#xywh=x,y,w,h``), the form
players (video.js, Plyr, jellyfin-web, PeerTube) read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VTT_NAME = "storyboard.vtt"
SPRITE_PATTERN = "sprite-%03d.jpg"
MAX_FRAMES = 200  # the automatic interval keeps a long video's previews to about this many


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    sheet: str
    x: int
    y: int
    w: int
    h: int


def auto_interval(duration_s: float, max_frames: int = MAX_FRAMES) -> float:
    """Seconds between frames: 1 s for short videos, more so a video has at most max_frames."""
    return float(max(1, math.ceil(duration_s / max_frames)))


def frame_height(width: int, src_width: int, src_height: int) -> int:
    """The even height that keeps the source's aspect ratio at ``width``."""
    if src_width <= 0 or src_height <= 0:
        return (width * 9 // 16) // 2 * 2
    return max(2, round(width * src_height / src_width / 2) * 2)


def frame_count(duration_s: float, interval_s: float) -> int:
    return max(1, math.ceil(duration_s / interval_s))


def cues(
    duration_s: float, interval_s: float, w: int, h: int, columns: int, rows: int
) -> list[Cue]:
    """One cue per frame, in order, each on its sheet and cell."""
    per_sheet = columns * rows
    out = []
    for i in range(frame_count(duration_s, interval_s)):
        cell = i % per_sheet
        out.append(
            Cue(
                start=i * interval_s,
                end=min((i + 1) * interval_s, duration_s) if duration_s > 0 else interval_s,
                sheet=SPRITE_PATTERN % (i // per_sheet + 1),
                x=(cell % columns) * w,
                y=(cell // columns) * h,
                w=w,
                h=h,
            )
        )
    return out


def vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def render_vtt(track: list[Cue], prefix: str = "") -> str:
    """The WebVTT thumbnails track; ``prefix`` is the sheets' path relative to the track."""
    lines = ["WEBVTT", ""]
    for cue in track:
        lines.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}")
        lines.append(f"{prefix}{cue.sheet}#xywh={cue.x},{cue.y},{cue.w},{cue.h}")
        lines.append("")
    return "\n".join(lines)


def ffmpeg_filter(interval_s: float, w: int, h: int, columns: int, rows: int) -> str:
    """Sample one frame per interval (from t=0), scale, and tile them into sheets."""
    return f"fps=1/{interval_s:g}:round=down,scale={w}:{h}:flags=bicubic,tile={columns}x{rows}"
