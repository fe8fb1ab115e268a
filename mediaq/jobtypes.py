"""Job types: one declaration each, found by the type's name.

A declaration says everything about a type: its default resource class and VRAM need, its
retry budget, how long it is expected to run (for backfill planning), whether it takes an
NVENC session, the model of its params (``mediaq.jobparams``) and its handler. The handler
is named by its import path, resolved on the worker (``tasks.registry``), so the core never
imports the worker code. A caller may override the class and VRAM per job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from mediaq import jobparams as p
from mediaq.errors import ValidationError
from mediaq.settings import RESOURCE_CLASSES

FALLBACK_EXPECTED_S = 300.0


@dataclass(frozen=True)
class JobType:
    name: str
    resource_category: str
    vram_required: int  # MiB
    params: type[p.JobParams]
    handler: str  # "module:function" under tasks.handlers
    max_attempts: int = 3
    uses_encoder: bool = False  # counts against the host's NVENC session limit
    expected_s: float = FALLBACK_EXPECTED_S  # run time when params.expectedSeconds is absent

    def parse_params(self, params: Any) -> p.JobParams:
        """The params as this type's model, or ``ValidationError`` naming each bad key."""
        try:
            return self.params.model_validate(params)
        except PydanticValidationError as exc:
            raise ValidationError(describe_errors(exc.errors(), "params")) from None


def describe_errors(errors: Sequence[ErrorDetails], prefix: str = "") -> str:
    """One line per error, each naming its field: ``params.videoId: Input should be ...``."""
    parts = []
    for error in errors:
        loc = ".".join(str(x) for x in (prefix, *error["loc"]) if x != "")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "value_error":  # our own validators' sentences name the field
            parts.append(message)
        elif error["type"] == "string_pattern_mismatch":
            parts.append(f"{loc} must not be blank or hold NUL characters")
        elif error["type"] == "literal_error":
            parts.append(f"{loc} must be one of: {error.get('ctx', {}).get('expected', '')}")
        elif error["type"] == "missing":
            parts.append(f"{loc} is required")
        else:
            parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def _t(
    name: str, category: str, vram: int, params: type[p.JobParams], handler: str, **kw: Any
) -> JobType:
    return JobType(name, category, vram, params, f"tasks.handlers.{handler}", **kw)


JOB_TYPES: dict[str, JobType] = {
    t.name: t
    for t in (
        _t("noop", "cpu", 0, p.NoopParams, "noop:run_noop", expected_s=1.0),
        _t("scan", "cpu", 0, p.ScanParams, "scan:run_scan", max_attempts=2),
        _t("public_scan", "cpu", 0, p.ScanParams, "scan:run_public_scan", max_attempts=2),
        _t("thumbnail", "cpu", 0, p.ThumbnailParams, "thumbnail:run_thumbnail"),
        _t("organize", "cpu", 0, p.OrganizeParams, "organize:run_organize", max_attempts=2),
        _t(
            "organize_studio",
            "cpu",
            0,
            p.OrganizeParams,
            "organize:run_organize_studio",
            max_attempts=2,
        ),
        _t(
            "reencode_streaming",
            "gpu_encode",
            1024,
            p.ReencodeParams,
            "reencode:run_reencode",
            uses_encoder=True,
            expected_s=600.0,
        ),
        _t(
            "compilation",
            "gpu_encode",
            2048,
            p.CompilationParams,
            "compilation:run_compilation",
            uses_encoder=True,
            expected_s=600.0,
        ),
        _t(
            "compile_random",
            "gpu_encode",
            2048,
            p.CompileRandomParams,
            "compilation:run_compile_random",
            uses_encoder=True,
            expected_s=600.0,
        ),
        _t(
            "compile_quad",
            "gpu_encode",
            3072,
            p.QuadParams,
            "compilation:run_compile_quad",
            uses_encoder=True,
            expected_s=900.0,
        ),
        _t(
            "compile_quad_horizontal",
            "gpu_encode",
            3072,
            p.QuadHorizontalParams,
            "compilation:run_compile_quad_horizontal",
            uses_encoder=True,
            expected_s=900.0,
        ),
        _t("generate_gif", "cpu", 0, p.GifParams, "gif:run_generate_gif"),
        _t(
            "clip_generate",
            "gpu_encode",
            1024,
            p.ClipParams,
            "clips:run_clip_generate",
            uses_encoder=True,
            expected_s=120.0,
        ),
        _t("clip_extract_only", "cpu", 0, p.ClipParams, "clips:run_clip_extract_only"),
        _t(
            "highlight_generate",
            "gpu_encode",
            2048,
            p.HighlightParams,
            "clips:run_highlight_generate",
            uses_encoder=True,
        ),
        _t("scene_extract", "gpu_ai", 2048, p.SceneParams, "scenes:run_scene_extract"),
        _t("tag_generation", "gpu_ai", 4096, p.TagParams, "tags:run_tag_generation"),
        _t("digest", "gpu_encode", 1024, p.DigestParams, "digest:run_digest", uses_encoder=True),
        _t("fetch", "cpu", 0, p.FetchParams, "fetch:run_fetch", max_attempts=4),
        _t(
            "auto_organize_publish",
            "cpu",
            0,
            p.AutoPublishParams,
            "pipeline:run_auto_organize_publish",
            max_attempts=1,
        ),
        _t("publish", "cpu", 0, p.PublishParams, "publish:run_publish"),
        _t("unpublish", "cpu", 0, p.UnpublishParams, "publish:run_unpublish"),
        _t(
            "storyboard", "cpu", 0, p.StoryboardParams, "storyboard:run_storyboard", expected_s=30.0
        ),
    )
}


def job_type(name: str) -> JobType:
    """The spec of a job type, or ValidationError naming the known types."""
    try:
        return JOB_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(JOB_TYPES))
        raise ValidationError(f"unknown job type {name!r}; known types: {known}") from None


def resolve_resources(
    name: str, resource_category: str | None, vram_required: int | None, cpu_only: bool = False
) -> tuple[str, int]:
    """The job's class and VRAM: the caller's overrides, else the type's defaults.

    ``cpu_only`` (a deployment without GPUs, ``MEDIAQ_CPU_ONLY``) turns a GPU default into
    the CPU class: handlers then encode in software and run models on the CPU. An explicit
    ``resource_category`` is still honoured.
    """
    spec = job_type(name)
    default = "cpu" if cpu_only else spec.resource_category
    category = resource_category or default
    if category not in RESOURCE_CLASSES:
        raise ValidationError(
            f"resourceCategory must be one of {', '.join(RESOURCE_CLASSES)}, not {category!r}"
        )
    vram = spec.vram_required if vram_required is None else vram_required
    if vram < 0:
        raise ValidationError("vramRequired must be >= 0")
    if category == "cpu":
        vram = 0
    return category, vram
