"""Job types: each one's default resource class, VRAM need and retry budget.

A caller may override the class and VRAM per job. Handlers live in ``tasks.handlers``;
this table is shared by the API (validation), the scheduler and the workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaq.errors import ValidationError
from mediaq.settings import RESOURCE_CLASSES


@dataclass(frozen=True)
class JobType:
    name: str
    resource_category: str
    vram_required: int  # MiB
    max_attempts: int = 3
    uses_encoder: bool = False  # counts against the host's NVENC session limit


JOB_TYPES: dict[str, JobType] = {
    t.name: t
    for t in (
        JobType("noop", "cpu", 0, max_attempts=3),
        JobType("scan", "cpu", 0, max_attempts=2),
        JobType("public_scan", "cpu", 0, max_attempts=2),
        JobType("thumbnail", "cpu", 0),
        JobType("organize", "cpu", 0, max_attempts=2),
        JobType("organize_studio", "cpu", 0, max_attempts=2),
        JobType("reencode_streaming", "gpu_encode", 1024, uses_encoder=True),
        JobType("compilation", "gpu_encode", 2048, uses_encoder=True),
        JobType("compile_random", "gpu_encode", 2048, uses_encoder=True),
        JobType("compile_quad", "gpu_encode", 3072, uses_encoder=True),
        JobType("compile_quad_horizontal", "gpu_encode", 3072, uses_encoder=True),
        JobType("generate_gif", "cpu", 0),
        JobType("clip_generate", "gpu_encode", 1024, uses_encoder=True),
        JobType("clip_extract_only", "cpu", 0),
        JobType("highlight_generate", "gpu_encode", 2048, uses_encoder=True),
        JobType("scene_extract", "gpu_ai", 2048),
        JobType("tag_generation", "gpu_ai", 4096),
        JobType("digest", "gpu_encode", 1024, uses_encoder=True),
        JobType("fetch", "cpu", 0, max_attempts=4),
        JobType("auto_organize_publish", "cpu", 0, max_attempts=1),
        JobType("publish", "cpu", 0),
        JobType("unpublish", "cpu", 0),
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
