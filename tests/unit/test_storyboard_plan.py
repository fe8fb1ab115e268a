"""Storyboard planning: the cues tile the whole video, each on its own cell (bounded)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.media.storyboard import (
    auto_interval,
    cues,
    ffmpeg_filter,
    frame_height,
    render_vtt,
    vtt_time,
)


def test_examples() -> None:
    assert auto_interval(10) == 1.0 and auto_interval(3600) == 18.0
    assert frame_height(160, 1920, 1080) == 90 and frame_height(160, 1080, 1920) == 284
    assert frame_height(160, 0, 0) == 90
    assert vtt_time(3723.5) == "01:02:03.500"
    track = cues(7, 2, 160, 90, 2, 1)
    assert [(c.start, c.end, c.sheet, c.x) for c in track] == [
        (0, 2, "sprite-001.jpg", 0),
        (2, 4, "sprite-001.jpg", 160),
        (4, 6, "sprite-002.jpg", 0),
        (6, 7, "sprite-002.jpg", 160),
    ]
    vtt = render_vtt(track, "storyboard/")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n")
    assert "storyboard/sprite-002.jpg#xywh=160,0,160,90" in vtt
    assert ffmpeg_filter(2, 160, 90, 5, 5) == (
        "fps=1/2:round=down,scale=160:90:flags=bicubic,tile=5x5"
    )


@settings(max_examples=100, deadline=None)
@given(
    duration=st.floats(0.05, 600, allow_nan=False),
    interval=st.sampled_from([0.5, 1.0, 2.0, 5.0, 18.0]),
    columns=st.integers(1, 8),
    rows=st.integers(1, 8),
)
def test_cues_cover_the_video_in_order(
    duration: float, interval: float, columns: int, rows: int
) -> None:
    track = cues(duration, interval, 160, 90, columns, rows)
    assert track[0].start == 0
    assert abs(track[-1].end - duration) < 1e-9
    for before, after in itertools.pairwise(track):
        assert before.end == after.start
    seen = set()
    for c in track:
        assert c.start < c.end
        assert 0 <= c.x < columns * 160 and 0 <= c.y < rows * 90
        assert (c.sheet, c.x, c.y) not in seen
        seen.add((c.sheet, c.x, c.y))
