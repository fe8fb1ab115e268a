"""Pure labels of a video: quality, orientation, length class, directory type."""

from __future__ import annotations

from pathlib import PurePath

from mediaq.models import DIRECTORY_TYPES

# The first path component under the library root that names one of the seed's directory
# types decides a file's type; anything else is a plain "videos" file.
DEFAULT_DIRECTORY_TYPE = "videos"

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".ts"}
    | {".m2ts", ".3gp", ".ogv", ".gif"}
)

# (label, nominal lines) from the top; a frame counts as the class its short side reaches.
QUALITY_CLASSES = (
    ("2160p", 2160),
    ("1440p", 1440),
    ("1080p", 1080),
    ("720p", 720),
    ("480p", 480),
    ("360p", 360),
    ("240p", 240),
)
LOWEST_QUALITY = "144p"
# Cropped encodes (1920x1072, 1280x704) still belong to their class.
QUALITY_TOLERANCE = 0.97
SQUARE_TOLERANCE = 0.02


def effective_lines(width: int, height: int) -> int:
    """Lines of the 16:9 frame that a picture of this size would fill.

    A wide crop (1920x800) is still 1080p and a portrait phone video (1080x1920) is 1080p,
    so the class follows the short side or, for frames wider than 16:9, the long side.
    """
    short, long = sorted((max(0, width), max(0, height)))
    return max(short, long * 9 // 16)


def quality_label(width: int, height: int) -> str:
    """``1080p``, ``720p``... for a frame size (the seed's example label is ``1080p``)."""
    lines = effective_lines(width, height)
    for label, nominal in QUALITY_CLASSES:
        if lines >= nominal * QUALITY_TOLERANCE:
            return label
    return LOWEST_QUALITY


def orientation_label(width: int, height: int, rotation: int = 0) -> str:
    """``landscape``, ``portrait`` or ``square``; a 90° display rotation swaps the sides."""
    if abs(rotation) % 180 == 90:
        width, height = height, width
    if width <= 0 or height <= 0:
        return "square"
    if abs(width - height) <= SQUARE_TOLERANCE * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def length_class(seconds: float) -> str:
    """``short`` (< 1 min), ``medium`` (< 10 min) or ``long``."""
    if seconds < 60:
        return "short"
    if seconds < 600:
        return "medium"
    return "long"


def directory_type_for(relative: PurePath) -> str:
    """The directory type of a file from its path relative to the library root."""
    for part in relative.parts[:-1]:
        name = part.lower()
        if name in DIRECTORY_TYPES:
            return name
    return DEFAULT_DIRECTORY_TYPE


def is_video_name(name: str) -> bool:
    """Whether a file name has a video extension (and is not hidden or a partial file)."""
    if name.startswith("."):
        return False
    return PurePath(name).suffix.lower() in VIDEO_EXTENSIONS
