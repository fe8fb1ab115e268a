"""Pure choice of moments: highlight windows from weighted points, digest cuts from scenes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# People react a little after what they react to: a reaction pulls its window this
# fraction of the window's length before it.
REACTION_LEAD = 0.6
MAX_POINTS = 2000


@dataclass(frozen=True)
class Moment:
    """A stretch of a video: start and length in seconds, and what chose it."""

    start: float
    duration: float
    score: float = 0.0


def _window(center: float, length: float, total: float) -> tuple[float, float]:
    length = min(length, total)
    start = min(max(0.0, center - length / 2), max(0.0, total - length))
    return start, start + length


def _overlaps(a: tuple[float, float], chosen: Sequence[tuple[float, float]]) -> bool:
    return any(a[0] < b[1] and b[0] < a[1] for b in chosen)


def evenly_spaced(duration: float, length: float, count: int) -> list[Moment]:
    """``count`` windows centred on equal parts of the video (when nothing stands out)."""
    length = min(length, duration)
    if count <= 0 or length <= 0:
        return []
    slots = max(1, min(count, int(duration // length)))
    windows = [_window(duration * (i + 0.5) / slots, length, duration) for i in range(slots)]
    return [Moment(lo, hi - lo) for lo, hi in windows]


def pick_moments(
    points: Sequence[tuple[float, float]], duration: float, length: float, count: int
) -> list[Moment]:
    """Up to ``count`` non-overlapping windows of ``length`` s with the most weight in them.

    ``points`` are (time, weight): reactions, motion samples, scene cuts. Greedy: the best
    window first, then the best that does not overlap it, and so on; returned in time order.
    """
    usable = [(t, w) for t, w in points[:MAX_POINTS] if 0 <= t <= duration and w > 0]
    if duration <= 0 or length <= 0 or count <= 0:
        return []
    if not usable:
        return evenly_spaced(duration, length, count)
    chosen: list[tuple[float, float, float]] = []
    candidates = sorted({round(t, 3) for t, _ in usable})
    while len(chosen) < count:
        best: tuple[float, float, float] | None = None
        for center in candidates:
            lo, hi = _window(center, length, duration)
            if _overlaps((lo, hi), [(c[0], c[1]) for c in chosen]):
                continue
            score = sum(w for t, w in usable if lo <= t < hi or (t == hi == duration))
            if best is None or score > best[2]:
                best = (lo, hi, score)
        if best is None or best[2] <= 0:
            break
        chosen.append(best)
    chosen.sort()
    return [Moment(lo, hi - lo, score) for lo, hi, score in chosen]


def reaction_points(timestamps: Sequence[int], length: float) -> list[tuple[float, float]]:
    """Reaction times as weighted points, each moved to the middle of the moment it marks."""
    shift = length * (REACTION_LEAD - 0.5)
    return [(max(0.0, float(t) - shift), 1.0) for t in timestamps]


def digest_moments(
    scenes: Sequence[tuple[float, float]], duration: float, per_scene: float, max_scenes: int
) -> list[Moment]:
    """A few seconds from the start of each scene (evenly chosen when there are too many).

    A video with a single scene gets evenly spaced pieces instead, one per ten seconds.
    """
    if len(scenes) < 2:
        pieces = max(1, min(max_scenes, int(duration // 10)))
        return evenly_spaced(duration, per_scene, pieces)
    picked = list(scenes)
    if len(picked) > max_scenes:
        step = len(picked) / max_scenes
        picked = [picked[int(i * step)] for i in range(max_scenes)]
    moments = []
    for start, end in picked:
        length = min(per_scene, end - start)
        if length > 0.05:
            moments.append(Moment(start, length))
    return moments
