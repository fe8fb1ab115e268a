"""The reaction heatmap: every reaction lands in exactly one segment, the peak is 1 (bounded)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from api_shim.heatmap import MIN_REACTIONS, SEGMENTS, bin_counts, curve, segment_of


def test_segments_split_the_video_equally() -> None:
    assert segment_of(0, 100) == 0
    assert segment_of(0.99, 100) == 0
    assert segment_of(1, 100) == 1
    assert segment_of(99.5, 100) == 99
    assert segment_of(100, 100) == 99  # the last instant
    assert segment_of(250, 100) == 99  # past the end (a stale duration) clamps
    assert segment_of(5, 0) == 0
    assert segment_of(30, 60, 2) == 1


def test_no_curve_below_the_threshold() -> None:
    assert curve([0] * SEGMENTS) is None
    few = bin_counts([(10, MIN_REACTIONS - 1)], 100)
    assert curve(few) is None
    enough = bin_counts([(10, MIN_REACTIONS - 1), (50, 1)], 100)
    shape = curve(enough)
    assert shape is not None and shape[10] == 1.0 and shape[50] == 0.5


@settings(max_examples=200, deadline=None)
@given(
    duration=st.integers(1, 20_000),
    moments=st.lists(st.tuples(st.integers(0, 25_000), st.integers(1, 50)), max_size=60),
)
def test_binning_keeps_every_reaction_and_normalises(
    duration: int, moments: list[tuple[int, int]]
) -> None:
    bins = bin_counts(moments, duration)
    assert len(bins) == SEGMENTS
    assert sum(bins) == sum(n for _, n in moments)
    for t, _ in moments:
        if t < duration:
            assert bins[t * SEGMENTS // duration] > 0
    shape = curve(bins)
    if sum(bins) < MIN_REACTIONS:
        assert shape is None
    else:
        assert shape is not None and max(shape) == 1.0 and min(shape) >= 0
        assert [b == 0 for b in bins] == [v == 0 for v in shape]
