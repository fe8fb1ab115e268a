"""Measured tags from frame samples, and loading a local model tagger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediaq.errors import InvalidParams
from tasks.media.frames import FramePair
from tasks.media.probe import ProbeResult
from tasks.media.tagger_model import LinearTagger, load_tagger
from tasks.media.tagging import feature_vector, measure, measured_tags, merge_tags


def _probe(width: int = 1920, height: int = 1080, seconds: float = 30, audio: bool = True):
    return ProbeResult(seconds, width, height, audio, "h264", "aac" if audio else None, 25, "mp4")


def _flat(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((36, 64, 3), rgb, dtype=np.uint8)


def test_dark_still_picture_in_one_shot() -> None:
    black = _flat((5, 5, 5))
    m = measure([FramePair(t, black, black) for t in range(5)], cuts=0, duration_s=30)
    tags = measured_tags(_probe(), m)
    assert tags == [
        "1080p",
        "hd",
        "landscape",
        "short",
        "has-audio",
        "dark",
        "static",
        "single-shot",
    ]


def test_bright_busy_picture_with_fast_cuts() -> None:
    rng = np.random.default_rng(1)
    pairs = [
        FramePair(
            t,
            rng.integers(150, 256, (36, 64, 3), dtype=np.uint8),
            rng.integers(150, 256, (36, 64, 3), dtype=np.uint8),
        )
        for t in range(5)
    ]
    m = measure(pairs, cuts=12, duration_s=30)
    tags = measured_tags(_probe(1080, 1920, 700, audio=False), m)
    assert {"portrait", "long", "silent", "bright", "high-motion", "fast-cuts"} <= set(tags)


def test_features_follow_the_colours() -> None:
    red = _flat((250, 0, 0))
    features = feature_vector(_probe(), measure([FramePair(0, red, red)], 0, 10))
    assert features["red_mean"] > 0.95 and features["blue_mean"] < 0.05
    assert features["saturation_mean"] > 0.95 and features["motion"] == 0


def _save(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_a_saved_linear_model_loads_and_predicts(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "m.npz",
        labels=np.array(["warm", "cold"]),
        features=np.array(["red_mean", "blue_mean"]),
        weights=np.array([[10.0, -10.0], [-10.0, 10.0]]),
        bias=np.zeros(2),
    )
    model = load_tagger(path)
    assert isinstance(model, LinearTagger) and model.name == "m"
    assert model.tags({"red_mean": 0.9, "blue_mean": 0.1}) == ["warm"]
    assert model.tags({"red_mean": 0.1, "blue_mean": 0.9}) == ["cold"]


@pytest.mark.parametrize(
    "arrays",
    [
        {
            "labels": np.array(["a"]),
            "features": np.array(["red_mean"]),
            "weights": np.ones((2, 1)),
            "bias": np.zeros(1),
        },
        {
            "labels": np.array(["a"]),
            "features": np.array(["colour"]),
            "weights": np.ones((1, 1)),
            "bias": np.zeros(1),
        },
        {
            "labels": np.array(["a"]),
            "features": np.array(["red_mean"]),
            "weights": np.array([[np.nan]]),
            "bias": np.zeros(1),
        },
        {"labels": np.array(["a"]), "weights": np.ones((1, 1)), "bias": np.zeros(1)},
        # object arrays need pickle, which the loader never allows
        {
            "labels": np.array([{"evil": 1}], dtype=object),
            "features": np.array(["red_mean"]),
            "weights": np.ones((1, 1)),
            "bias": np.zeros(1),
        },
    ],
)
def test_malformed_models_are_refused(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    with pytest.raises(InvalidParams):
        load_tagger(_save(tmp_path / "bad.npz", **arrays))


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"\0")
    with pytest.raises(InvalidParams, match="unknown format"):
        load_tagger(tmp_path / "m.onnx")
    with pytest.raises(InvalidParams, match="does not exist"):
        load_tagger(tmp_path / "nope.npz")


def test_merge_keeps_first_seen_order() -> None:
    assert merge_tags(["a", "b"], ["b", "c", ""]) == ["a", "b", "c"]
