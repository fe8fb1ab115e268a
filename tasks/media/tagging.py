"""Pure tag rules: measurements of sampled frames become tags and a model's feature vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks.media.frames import FramePair
from tasks.media.labels import length_class
from tasks.media.probe import ProbeResult

DARK_BELOW = 0.25
BRIGHT_ABOVE = 0.65
STATIC_BELOW = 0.01
CALM_BELOW = 0.06
FAST_CUTS_PER_MIN = 10.0
FEATURE_NAMES = (
    "luma_mean",
    "luma_std",
    "red_mean",
    "green_mean",
    "blue_mean",
    "saturation_mean",
    "motion",
    "cut_rate",
    "has_audio",
    "aspect",
)


@dataclass(frozen=True)
class Measurements:
    """What the samples say, every value scaled to 0..1 except ``cuts_per_minute``."""

    luma_mean: float
    luma_std: float
    rgb_mean: tuple[float, float, float]
    saturation_mean: float
    motion: float
    cuts_per_minute: float


def _luma(image: np.ndarray) -> np.ndarray:
    rgb = image.astype(np.float32) / 255.0
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def _saturation(image: np.ndarray) -> float:
    rgb = image.astype(np.float32) / 255.0
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    sat = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    return float(sat.mean())


def measure(pairs: Sequence[FramePair], cuts: int, duration_s: float) -> Measurements:
    """Brightness, colour, saturation and motion from frame pairs; cut rate from ``cuts``."""
    if not pairs:
        return Measurements(0.0, 0.0, (0.0, 0.0, 0.0), 0.0, 0.0, 0.0)
    firsts = np.stack([p.first for p in pairs])
    luma = _luma(firsts)
    rgb = firsts.astype(np.float32).mean(axis=(0, 1, 2)) / 255.0
    motion = float(np.mean([np.abs(_luma(p.first) - _luma(p.second)).mean() for p in pairs]))
    minutes = max(duration_s, 1e-6) / 60.0
    return Measurements(
        luma_mean=float(luma.mean()),
        luma_std=float(luma.std()),
        rgb_mean=(float(rgb[0]), float(rgb[1]), float(rgb[2])),
        saturation_mean=float(np.mean([_saturation(p.first) for p in pairs])),
        motion=motion,
        cuts_per_minute=cuts / minutes,
    )


def resolution_class(height_lines: str) -> str:
    """``uhd`` / ``hd`` / ``sd`` from a quality label."""
    lines = int(height_lines.rstrip("p"))
    if lines >= 2160:
        return "uhd"
    if lines >= 720:
        return "hd"
    return "sd"


def measured_tags(probe: ProbeResult, m: Measurements) -> list[str]:
    """Tags anyone can check: resolution, orientation, length, sound, light, motion, cuts."""
    tags = [
        probe.quality,
        resolution_class(probe.quality),
        probe.orientation,
        length_class(probe.duration_s),
        "has-audio" if probe.has_audio else "silent",
    ]
    if m.luma_mean < DARK_BELOW:
        tags.append("dark")
    elif m.luma_mean > BRIGHT_ABOVE:
        tags.append("bright")
    else:
        tags.append("mid-tone")
    if m.motion < STATIC_BELOW:
        tags.append("static")
    elif m.motion < CALM_BELOW:
        tags.append("low-motion")
    else:
        tags.append("high-motion")
    if m.cuts_per_minute == 0:
        tags.append("single-shot")
    elif m.cuts_per_minute < FAST_CUTS_PER_MIN:
        tags.append("slow-cuts")
    else:
        tags.append("fast-cuts")
    return tags


def feature_vector(probe: ProbeResult, m: Measurements) -> dict[str, float]:
    """The named features a model tagger reads (all about 0..1)."""
    return {
        "luma_mean": m.luma_mean,
        "luma_std": m.luma_std,
        "red_mean": m.rgb_mean[0],
        "green_mean": m.rgb_mean[1],
        "blue_mean": m.rgb_mean[2],
        "saturation_mean": m.saturation_mean,
        "motion": m.motion,
        "cut_rate": min(1.0, m.cuts_per_minute / 60.0),
        "has_audio": 1.0 if probe.has_audio else 0.0,
        "aspect": min(probe.width, probe.height) / max(probe.width, probe.height, 1),
    }


def merge_tags(*groups: Sequence[str]) -> list[str]:
    """Every tag once, in first-seen order."""
    seen: dict[str, None] = {}
    for group in groups:
        for tag in group:
            if tag:
                seen.setdefault(tag, None)
    return list(seen)
