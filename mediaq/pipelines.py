"""Pipelines: ordered job steps whose dependencies are resolved in the database.

A step's job is written at once but ``held``; it is released when every job it depends on
completed. A step that failed for good or was cancelled cancels the rest
(``mediaq.transitions.resolve_pipeline``, after every step's outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from mediaq.enqueue import JobSpec, job_row
from mediaq.errors import ValidationError
from mediaq.models import Job, Pipeline, PipelineStep

MAX_STEPS = 100


@dataclass(frozen=True)
class StepSpec:
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[int, ...] = ()
    priority: int = 5
    resource_category: str | None = None
    vram_required: int | None = None
    cpu_only: bool = False


def validate_steps(steps: Sequence[StepSpec]) -> None:
    """Steps may only depend on earlier steps (so the graph has no cycle)."""
    if not steps:
        raise ValidationError("a pipeline needs at least one step")
    if len(steps) > MAX_STEPS:
        raise ValidationError(f"a pipeline has at most {MAX_STEPS} steps")
    for index, step in enumerate(steps):
        for dep in step.depends_on:
            if isinstance(dep, bool) or not isinstance(dep, int) or not 0 <= dep < index:
                raise ValidationError(
                    f"step {index}: dependsOn may only name earlier steps (0..{index - 1}),"
                    f" not {dep!r}"
                )


def create_pipeline(session: Session, name: str, steps: Sequence[StepSpec]) -> int:
    """Write a pipeline, its steps and their jobs in the caller's transaction."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("name must be a non-empty string of at most 200 characters")
    validate_steps(steps)
    rows = [
        job_row(
            JobSpec(
                s.type,
                s.params,
                s.priority,
                s.resource_category,
                s.vram_required,
                cpu_only=s.cpu_only,
            )
        )
        for s in steps
    ]
    pipeline_id = session.execute(
        insert(Pipeline).values(name=name.strip(), status="running").returning(Pipeline.id)
    ).scalar_one()
    job_ids: list[int] = []
    for index, (step, row) in enumerate(zip(steps, rows, strict=True)):
        step_id = session.execute(
            insert(PipelineStep)
            .values(
                pipeline_id=pipeline_id,
                step_index=index,
                type=step.type,
                params=row["params"],
                depends_on=list(step.depends_on),
            )
            .returning(PipelineStep.id)
        ).scalar_one()
        deps = [job_ids[d] for d in step.depends_on]
        held = bool(deps)
        job_id = session.execute(
            insert(Job)
            .values(
                **row,
                pipeline_id=pipeline_id,
                pipeline_step_id=step_id,
                depends_on=deps,
                held=held,
                waiting_code="DEPENDENCY" if held else None,
                waiting_reason=_dependency_reason(deps) if held else None,
            )
            .returning(Job.id)
        ).scalar_one()
        job_ids.append(int(job_id))
    return int(pipeline_id)


def _dependency_reason(deps: Sequence[int]) -> str:
    names = ", ".join(f"#{d}" for d in deps)
    return f"DEPENDENCY: waits for job {names} to complete"
