"""Choosing highlight windows and digest pieces."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.media.moments import digest_moments, evenly_spaced, pick_moments, reaction_points


def test_the_densest_stretch_wins() -> None:
    points = [(10.0, 1.0), (30.0, 1.0), (31.0, 1.0), (32.0, 1.0), (50.0, 1.0)]
    [best] = pick_moments(points, duration=60, length=6, count=1)
    assert best.start <= 30 and best.start + best.duration >= 32 and best.score == 3.0


def test_windows_do_not_overlap_and_come_in_time_order() -> None:
    points = [(5.0, 2.0), (6.0, 2.0), (40.0, 1.0), (41.0, 1.0), (20.0, 0.5)]
    moments = pick_moments(points, duration=60, length=4, count=3)
    assert [m.start for m in moments] == sorted(m.start for m in moments)
    for a, b in itertools.pairwise(moments):
        assert a.start + a.duration <= b.start
    assert len(moments) == 3


def test_no_signal_gives_evenly_spaced_windows() -> None:
    assert pick_moments([], duration=30, length=3, count=3) == evenly_spaced(30, 3, 3)
    spaced = evenly_spaced(30, 3, 3)
    assert [m.start for m in spaced] == [3.5, 13.5, 23.5]


def test_reactions_pull_the_window_before_them() -> None:
    [(t, w)] = reaction_points([20], length=10)
    assert t == 19.0 and w == 1.0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-5, 200), st.floats(0, 5)), max_size=60),
    st.floats(1, 200),
    st.floats(0.2, 30),
    st.integers(1, 6),
)
def test_moments_stay_inside_the_video(
    points: list[tuple[float, float]], duration: float, length: float, count: int
) -> None:
    moments = pick_moments(points, duration, length, count)
    assert len(moments) <= count
    for m in moments:
        assert m.start >= 0 and m.start + m.duration <= duration + 1e-6
        assert m.duration <= length + 1e-6


def test_digest_takes_the_start_of_each_scene() -> None:
    scenes = [(0.0, 1.0), (1.0, 2.0), (2.0, 2.3)]
    moments = digest_moments(scenes, 2.3, per_scene=0.5, max_scenes=8)
    got = [(round(m.start, 6), round(m.duration, 6)) for m in moments]
    assert got == [(0.0, 0.5), (1.0, 0.5), (2.0, 0.3)]
    many = [(float(i), float(i + 1)) for i in range(100)]
    assert len(digest_moments(many, 100, 1, 8)) == 8
    single = digest_moments([(0.0, 60.0)], 60, 2, 4)
    assert len(single) == 4
