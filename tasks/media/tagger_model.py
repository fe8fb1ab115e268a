"""Pluggable model taggers: a local model file loaded by the loader for its suffix.

The built-in loader reads a linear model from a NumPy ``.npz`` (no pickle): ``labels`` (L
strings), ``features`` (F names from ``tagging.FEATURE_NAMES``), ``weights`` (L×F), ``bias``
(L) and an optional ``threshold`` (default 0.5). A label is given when the sigmoid of its
score reaches the threshold. Other formats plug in with ``register_loader``; everything runs
on the CPU, so a host without a GPU can tag too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mediaq.errors import InvalidParams
from tasks.media.tagging import FEATURE_NAMES


class ModelTagger(Protocol):
    """Anything that turns named features into tags."""

    @property
    def name(self) -> str: ...

    def tags(self, features: Mapping[str, float]) -> list[str]: ...


Loader = Callable[[Path], ModelTagger]
_LOADERS: dict[str, Loader] = {}


def register_loader(suffix: str, loader: Loader) -> None:
    """Teach ``load_tagger`` a model format by file suffix (``.npz``, ``.onnx`` ...)."""
    _LOADERS[suffix.lower()] = loader


def load_tagger(path: str | Path) -> ModelTagger:
    """Load the model at ``path``; InvalidParams when it is missing or malformed."""
    model_path = Path(path)
    if not model_path.is_file():
        raise InvalidParams(f"tag model {model_path} does not exist")
    loader = _LOADERS.get(model_path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(_LOADERS))
        raise InvalidParams(f"tag model {model_path}: unknown format (known: {known})")
    return loader(model_path)


@dataclass(frozen=True)
class LinearTagger:
    """Independent logistic scores, one per label, over a few named features."""

    name: str
    labels: tuple[str, ...]
    features: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    threshold: float = 0.5

    def scores(self, features: Mapping[str, float]) -> dict[str, float]:
        x = np.array([float(features.get(f, 0.0)) for f in self.features], dtype=np.float64)
        logits = self.weights @ x + self.bias
        probs = 1.0 / (1.0 + np.exp(-logits))
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def tags(self, features: Mapping[str, float]) -> list[str]:
        return [label for label, p in self.scores(features).items() if p >= self.threshold]


def load_linear_npz(path: Path) -> LinearTagger:
    """Read and check a linear model saved with ``numpy.savez``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            labels = tuple(str(x) for x in data["labels"])
            features = tuple(str(x) for x in data["features"])
            weights = np.asarray(data["weights"], dtype=np.float64)
            bias = np.asarray(data["bias"], dtype=np.float64)
            threshold = float(data["threshold"]) if "threshold" in data else 0.5
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidParams(f"tag model {path}: not a linear model file ({exc})") from exc
    unknown = [f for f in features if f not in FEATURE_NAMES]
    if unknown:
        raise InvalidParams(f"tag model {path}: unknown features {unknown}")
    if weights.shape != (len(labels), len(features)) or bias.shape != (len(labels),):
        raise InvalidParams(
            f"tag model {path}: weights {weights.shape} / bias {bias.shape} do not match "
            f"{len(labels)} labels x {len(features)} features"
        )
    if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
        raise InvalidParams(f"tag model {path}: weights must be finite")
    return LinearTagger(path.stem, labels, features, weights, bias, threshold)


register_loader(".npz", load_linear_npz)
