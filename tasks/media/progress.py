"""Pure parsing of ffmpeg's machine-readable progress (``-progress pipe:1``).

ffmpeg writes blocks of ``key=value`` lines, each block ending in ``progress=continue`` or
``progress=end``. The position is ``out_time_us`` (``out_time_ms`` is also microseconds, an
old ffmpeg quirk; ``out_time`` is ``HH:MM:SS.micro``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROGRESS_KEYS = frozenset(
    {
        "frame",
        "fps",
        "stream_0_0_q",
        "bitrate",
        "total_size",
        "out_time_us",
        "out_time_ms",
        "out_time",
        "dup_frames",
        "drop_frames",
        "speed",
        "progress",
    }
)
_LINE = re.compile(r"^(?P<key>[a-z0-9_]+)=(?P<value>.*)$")
_CLOCK = re.compile(r"^(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")


def parse_clock(value: str) -> float | None:
    """``00:01:02.500000`` -> 62.5 seconds; None for ``N/A`` or garbage."""
    match = _CLOCK.match(value.strip())
    if not match:
        return None
    return int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])


def is_progress_line(line: str) -> bool:
    """Whether a line is one of ffmpeg's progress ``key=value`` lines (not a log line)."""
    match = _LINE.match(line.strip())
    if match is None:
        return False
    return match["key"] in PROGRESS_KEYS or match["key"].startswith("stream_")


@dataclass
class FfmpegProgress:
    """Folds progress lines into a position, a speed and a percentage of ``duration_s``."""

    duration_s: float
    position_s: float = 0.0
    speed: float | None = None
    ended: bool = False
    _seen_us: bool = field(default=False, repr=False)

    def feed(self, line: str) -> float | None:
        """Take one line; return the new percentage (0-100) at the end of a block, else None."""
        match = _LINE.match(line.strip())
        if not match:
            return None
        key, value = match["key"], match["value"].strip()
        if key == "out_time_us":
            micros = _micro(value)
            self._set_position(micros)
            self._seen_us = self._seen_us or micros is not None
        elif key == "out_time_ms" and not self._seen_us:
            self._set_position(_micro(value))
        elif key == "out_time" and not self._seen_us:
            seconds = parse_clock(value)
            if seconds is not None:
                self.position_s = max(self.position_s, seconds)
        elif key == "speed":
            self.speed = _speed(value)
        elif key == "progress":
            self.ended = value == "end"
            return self.percent
        return None

    @property
    def percent(self) -> float:
        if self.ended:
            return 100.0
        if self.duration_s <= 0:
            return 0.0
        return max(0.0, min(99.9, 100.0 * self.position_s / self.duration_s))

    def _set_position(self, micros: int | None) -> None:
        if micros is not None and micros >= 0:
            self.position_s = max(self.position_s, micros / 1_000_000)


def _micro(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _speed(value: str) -> float | None:
    try:
        return float(value.rstrip("x"))
    except ValueError:
        return None
