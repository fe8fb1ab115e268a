"""``tag_generation`` ``{videoId, model?}``: measured tags plus a model's, into ``videos.tags``.

The model is a local file: ``params.model``, else ``<library_root>/models/tagger.npz`` when
it exists. No model configured: measured tags only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, update

from mediaq.jobparams import TagParams
from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.frames import sample_pairs
from tasks.media.jobio import load_source
from tasks.media.params import read_params
from tasks.media.scenes import detect_scenes
from tasks.media.tagger_model import ModelTagger, load_tagger
from tasks.media.tagging import feature_vector, measure, measured_tags, merge_tags

SAMPLES = 24
DEFAULT_MODEL = Path("models") / "tagger.npz"


def _model(ctx: JobContext) -> ModelTagger | None:
    configured = read_params(ctx.params, TagParams).model
    if configured is not None:
        return load_tagger(configured)
    default = Path(ctx.settings.library_root) / DEFAULT_MODEL
    return load_tagger(default) if default.is_file() else None


def run_tag_generation(ctx: JobContext) -> dict[str, Any]:
    source = load_source(ctx, read_params(ctx.params, TagParams).video_id)
    model = _model(ctx)
    duration = source.duration_s
    times = [duration * (i + 0.5) / SAMPLES for i in range(SAMPLES)]
    pairs = sample_pairs(source.path, times, gap_s=min(0.5, duration / (2 * SAMPLES)))
    ctx.progress(30)
    scenes = detect_scenes(ctx, source.path, span=(30.0, 90.0))
    measurements = measure(pairs, cuts=len(scenes) - 1, duration_s=duration)
    measured = measured_tags(source.probe, measurements)
    features = feature_vector(source.probe, measurements)
    predicted = model.tags(features) if model is not None else []
    tags = merge_tags(measured, predicted)
    with ctx.session() as session:
        session.execute(
            update(Video)
            .where(Video.id == source.video_id)
            .values(tags=tags, updated_at=func.now())
        )
    ctx.log(f"tags: {', '.join(tags)}" + (f" (model {model.name})" if model else ""))
    return {
        "videoId": source.video_id,
        "tags": tags,
        "measured": measured,
        "model": model.name if model is not None else None,
        "modelTags": predicted,
        "features": {k: round(v, 4) for k, v in features.items()},
    }
