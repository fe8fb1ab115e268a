"""ffmpeg's -progress output folded into a percentage."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.media.progress import FfmpegProgress, is_progress_line, parse_clock

# A real block from ``ffmpeg -progress pipe:1`` (ffmpeg 5.1).
BLOCK = """frame=50
fps=0.00
stream_0_0_q=28.0
bitrate=  97.4kbits/s
total_size=24624
out_time_us=2022313
out_time_ms=2022313
out_time=00:00:02.022313
dup_frames=0
drop_frames=0
speed=4.04x
progress=continue"""


def test_a_block_gives_position_speed_and_percent() -> None:
    progress = FfmpegProgress(duration_s=4.0)
    results = [progress.feed(line) for line in BLOCK.splitlines()]
    assert results[:-1] == [None] * 11
    assert abs((results[-1] or 0) - 50.56) < 0.01
    assert progress.speed == 4.04
    assert progress.feed("progress=end") == 100.0


def test_log_lines_are_not_progress_lines() -> None:
    assert all(is_progress_line(line) for line in BLOCK.splitlines())
    assert not is_progress_line("[libx264 @ 0x55] frame I:1 Avg QP:20.00 size: 1234")
    assert not is_progress_line("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':")
    assert not is_progress_line("encoder=Lavf59")


def test_clock_and_odd_values() -> None:
    assert parse_clock("01:02:03.500000") == 3723.5
    assert parse_clock("N/A") is None
    progress = FfmpegProgress(duration_s=10)
    progress.feed("out_time_us=N/A")
    progress.feed("out_time=00:00:05.000000")
    assert progress.feed("progress=continue") == 50.0


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.1, 3600),
    st.lists(st.integers(-(10**6), 10**10), max_size=30),
)
def test_percent_stays_in_range_and_never_goes_back(duration: float, times: list[int]) -> None:
    progress = FfmpegProgress(duration)
    last = 0.0
    for micros in times:
        progress.feed(f"out_time_us={micros}")
        value = progress.feed("progress=continue")
        assert value is not None and 0.0 <= value < 100.0 and value >= last
        last = value
    assert progress.feed("progress=end") == 100.0
