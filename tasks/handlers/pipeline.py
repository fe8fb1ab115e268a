"""``auto_organize_publish`` ``{videoId, category?, hls?, cpuOnly?}``: a pipeline of jobs.

organize_studio, then tag_generation and reencode_streaming (side by side), then publish
(of the re-encoded file). The job itself only writes the pipeline and completes; the steps
run as their own jobs, released by the database as their dependencies complete.
``cpuOnly`` runs every step in the CPU class, for deployments without a GPU.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mediaq.jobparams import AutoPublishParams
from mediaq.models import Job
from mediaq.pipelines import StepSpec, create_pipeline
from tasks.context import JobContext
from tasks.media.catalog import get_video
from tasks.media.params import read_params


def publish_steps(vid: int, category: str | None, hls: bool, cpu_only: bool) -> list[StepSpec]:
    """The four steps (pure): organize -> (tag, re-encode) -> publish."""
    cls = "cpu" if cpu_only else None
    publish: dict[str, Any] = {"videoId": vid}
    if category:
        publish["category"] = category
    return [
        StepSpec("organize_studio", {"videoIds": [vid]}, resource_category=cls),
        StepSpec("tag_generation", {"videoId": vid}, depends_on=(0,), resource_category=cls),
        StepSpec(
            "reencode_streaming",
            {"videoId": vid, "hls": hls},
            depends_on=(0,),
            resource_category=cls,
        ),
        StepSpec("publish", publish, depends_on=(1, 2), resource_category=cls),
    ]


def run_auto_organize_publish(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, AutoPublishParams)
    vid, category, hls = p.video_id, p.category, p.hls
    cpu_only = p.cpu_only or ctx.settings.cpu_only
    with ctx.session() as session:
        get_video(session, vid)
        pipeline_id = create_pipeline(
            session,
            f"auto_organize_publish video {vid}",
            publish_steps(vid, category, hls, cpu_only),
        )
        job_ids = list(
            session.scalars(select(Job.id).where(Job.pipeline_id == pipeline_id).order_by(Job.id))
        )
    ctx.log(f"pipeline {pipeline_id}: jobs {job_ids}")
    return {"videoId": vid, "pipelineId": pipeline_id, "jobIds": job_ids}
