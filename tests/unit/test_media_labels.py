"""Labels of a video: quality class, orientation, length class, directory type."""

from __future__ import annotations

from pathlib import PurePath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.media.labels import (
    QUALITY_CLASSES,
    directory_type_for,
    is_video_name,
    length_class,
    orientation_label,
    quality_label,
)


@pytest.mark.parametrize(
    ("width", "height", "label"),
    [
        (3840, 2160, "2160p"),
        (2560, 1440, "1440p"),
        (1920, 1080, "1080p"),
        (1080, 1920, "1080p"),  # portrait phone video
        (1920, 800, "1080p"),  # cinemascope crop
        (1920, 1072, "1080p"),  # cropped by a few lines
        (1280, 720, "720p"),
        (640, 480, "480p"),
        (320, 240, "240p"),
        (176, 144, "144p"),
    ],
)
def test_quality_label(width: int, height: int, label: str) -> None:
    assert quality_label(width, height) == label


RANK = [label for label, _ in QUALITY_CLASSES][::-1]


def _rank(label: str) -> int:
    return RANK.index(label) if label in RANK else -1


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8000), st.integers(1, 8000), st.integers(0, 500))
def test_quality_never_drops_when_the_frame_grows(w: int, h: int, extra: int) -> None:
    assert _rank(quality_label(w + extra, h + extra)) >= _rank(quality_label(w, h))
    assert quality_label(w, h) == quality_label(h, w)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8000), st.integers(1, 8000))
def test_orientation_swaps_with_the_sides_and_with_a_quarter_turn(w: int, h: int) -> None:
    flipped = {"landscape": "portrait", "portrait": "landscape", "square": "square"}
    assert orientation_label(h, w) == flipped[orientation_label(w, h)]
    assert orientation_label(w, h, rotation=90) == orientation_label(h, w)
    assert orientation_label(w, h, rotation=-270) == orientation_label(h, w)


def test_orientation_examples() -> None:
    assert orientation_label(1920, 1080) == "landscape"
    assert orientation_label(1080, 1920) == "portrait"
    assert orientation_label(500, 500) == "square"
    assert orientation_label(1000, 990) == "square"


def test_length_classes() -> None:
    assert [length_class(s) for s in (0, 59.9, 60, 599, 600, 7200)] == [
        "short",
        "short",
        "medium",
        "medium",
        "long",
        "long",
    ]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("studios/Acme/x.mp4", "studios"),
        ("Studios/Acme/x.mp4", "studios"),
        ("inbox/x.mp4", "inbox"),
        ("archive/highlights/2024/x.mp4", "highlights"),
        ("x.mp4", "videos"),
        ("misc/x.mp4", "videos"),
        ("misc/gifs.mp4", "videos"),  # only folders count, not the file name
    ],
)
def test_directory_type_from_path(path: str, kind: str) -> None:
    assert directory_type_for(PurePath(path)) == kind


def test_video_names() -> None:
    assert is_video_name("a.MP4") and is_video_name("b.mkv") and is_video_name("c.gif")
    assert not is_video_name("notes.txt")
    assert not is_video_name(".x.part.mp4")  # our own temp files are hidden
