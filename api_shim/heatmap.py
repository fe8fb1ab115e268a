"""The reaction timeline heatmap ("most replayed" idea), pure.

A video's reactions are binned into ``SEGMENTS`` equal segments of its duration and each
segment's count is divided by the busiest segment's, so the curve runs from 0 to 1. With
fewer than ``MIN_REACTIONS`` reactions there is no curve (``None``): a single reaction would
otherwise draw a spike that means nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

SEGMENTS = 100
MIN_REACTIONS = 3


def segment_of(timestamp: float, duration: float, segments: int = SEGMENTS) -> int:
    """The segment a moment falls in; the last instant belongs to the last segment."""
    if duration <= 0:
        return 0
    index = int(timestamp * segments // duration)
    return min(max(index, 0), segments - 1)


def bin_counts(
    counts: Iterable[tuple[float, int]], duration: float, segments: int = SEGMENTS
) -> list[int]:
    """``(timestamp, reactions at it)`` pairs -> reactions per segment."""
    bins = [0] * segments
    for timestamp, n in counts:
        bins[segment_of(timestamp, duration, segments)] += n
    return bins


def curve(bins: list[int], min_reactions: int = MIN_REACTIONS) -> list[float] | None:
    """Each segment relative to the busiest one (0..1), or None below ``min_reactions``."""
    total = sum(bins)
    if total < min_reactions or total == 0:
        return None
    peak = max(bins)
    return [round(b / peak, 4) for b in bins]
