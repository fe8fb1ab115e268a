"""The job API (admin JWT): enqueue, list, get, cancel, retry, queue view, pipelines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, func, select, text
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.bodies import ENQUEUE_BODY, JOB_BODY, JobsBody, PipelineBody, validate
from api_shim.endpoints import Endpoint, Link, api
from api_shim.errors import ApiError
from api_shim.queries import IdPath, JobsQuery
from api_shim.serialize import ATTEMPT_COLUMNS, iso, job_to_json, row_to_json
from mediaq.enqueue import JobSpec, enqueue_job, enqueue_many
from mediaq.errors import NotFound
from mediaq.jobcontrol import cancel_job, retry_job
from mediaq.jobcounts import count_jobs
from mediaq.likes import contains_pattern
from mediaq.models import Job, JobAttempt, Pipeline, PipelineStep
from mediaq.pipelines import StepSpec, create_pipeline
from mediaq.queueview import queue_overview


def _session(request: Request) -> Session:
    return request.app.state.sessions()


def spec_of(job: Any, sent: dict[str, Any], cpu_only: bool) -> JobSpec:
    """A JobSpec from a validated job body; params are kept as sent."""
    return JobSpec(
        type=job.type,
        params=sent.get("params") or {},
        priority=job.priority,
        resource_category=job.resource_category,
        vram_required=job.vram_required,
        max_attempts=job.max_attempts,
        cpu_only=cpu_only,
        unique_key=job.unique_key,
    )


def create_job(request: Request, raw: dict[str, Any]) -> JSONResponse:
    cpu_only = request.app.state.settings.cpu_only
    body = raw
    if "jobs" in body:
        bulk = validate(JobsBody, body)
        specs = [
            spec_of(job, sent, cpu_only) for job, sent in zip(bulk.jobs, body["jobs"], strict=True)
        ]
        with _session(request) as session, session.begin():
            ids = enqueue_many(session, specs)
        return JSONResponse({"jobIds": ids, "count": len(ids)}, status_code=201)
    spec = spec_of(validate(JOB_BODY, body), body, cpu_only)
    with _session(request) as session:
        with session.begin():
            job_id, created = enqueue_job(session, spec)
        job = session.get(Job, job_id)
        # an existing live job with the same uniqueKey: 200 and that job
        return JSONResponse({"job": job_to_json(job)}, status_code=201 if created else 200)


TEXT_COUNT_CAP = 10_000


def list_jobs(request: Request, query: JobsQuery) -> JSONResponse:
    """Newest first (pending: in admission order). ``before`` pages by id (keyset, as cheap
    on page 1,000 as on page 1; ``pagination.nextBefore`` is the next page's value);
    ``q`` matches text in the params. The total is exact and costs what is live: finished
    jobs are counted from kept counters. With ``q`` it stops at ``TEXT_COUNT_CAP``."""
    status, job_type, category = query.status, query.type, query.resource_category
    limit, offset, before, needle = query.limit, query.offset, query.before, query.q
    selected = select(Job)
    for column, value in (
        (Job.status, status),
        (Job.type, job_type),
        (Job.resource_category, category),
    ):
        if value is not None:
            selected = selected.where(column == value)
    if needle:
        selected = selected.where(Job.params.cast(Text).ilike(contains_pattern(needle)))
    keyset = before is not None and status != "pending"
    if keyset:
        selected = selected.where(Job.id < before)
    if status == "pending":
        selected = selected.order_by(
            Job.resource_category, Job.priority.desc(), Job.created_at, Job.id
        )
    else:
        selected = selected.order_by(Job.id.desc())
    with _session(request) as session:
        rows = session.scalars(selected.limit(limit).offset(0 if keyset else offset)).all()
        capped = False
        if needle:
            counted = session.scalar(
                select(func.count()).select_from(
                    selected.with_only_columns(Job.id)
                    .order_by(None)
                    .limit(TEXT_COUNT_CAP + 1)
                    .subquery()
                )
            )
            total = int(counted or 0)
            capped = total > TEXT_COUNT_CAP
            total = min(total, TEXT_COUNT_CAP)
        else:
            total = count_jobs(session, status, job_type, category)
        jobs = [_with_live_position(session, job) for job in rows]
    pagination: dict[str, Any] = {
        "total": total,
        "limit": limit,
        "offset": offset,
        "hasMore": len(jobs) == limit if keyset or capped else offset + len(jobs) < total,
        "nextBefore": jobs[-1]["id"] if jobs and status != "pending" else None,
    }
    if capped:
        pagination["totalCapped"] = True
    return JSONResponse({"jobs": jobs, "pagination": pagination})


def live_position(session: Session, job: Job) -> int:
    """1 + the pending jobs of the same class ahead of this one in exact order."""
    ahead = session.execute(
        text(
            """
            SELECT count(*) FROM jobs
             WHERE status = 'pending' AND resource_category = :c
               AND (priority > :p OR (priority = :p AND (created_at, id) < (:t, :id)))
            """
        ),
        {"c": job.resource_category, "p": job.priority, "t": job.created_at, "id": job.id},
    ).scalar_one()
    return int(ahead) + 1


def _with_live_position(session: Session, job: Job) -> dict[str, Any]:
    data = job_to_json(job)
    if job.status == "pending" and job.queue_position is None:
        data["queuePosition"] = live_position(session, job)
        if job.waiting_reason is None:
            data["waitingCode"] = "PRIORITY"
            data["waitingReason"] = (
                f"PRIORITY: {data['queuePosition'] - 1} jobs ahead in {job.resource_category}"
            )
    return data


def get_job(request: Request, path: IdPath) -> JSONResponse:
    job_id = path.id
    with _session(request) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ApiError.not_found("Job not found")
        data = _with_live_position(session, job)
        data["attempts"] = attempts_json(session, job_id)
        return JSONResponse(data)


def attempts_json(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Every attempt of a job, oldest first: start, end, host, GPU, outcome, error tail."""
    rows = session.scalars(
        select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.attempt)
    ).all()
    return [row_to_json(row, ATTEMPT_COLUMNS) for row in rows]


def _act(request: Request, job_id: int, action: Any) -> JSONResponse:
    with _session(request) as session:
        with session.begin():
            action(session, job_id)
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("Job not found")
        session.refresh(job)
        return JSONResponse({"job": job_to_json(job)})


def cancel(request: Request, path: IdPath) -> JSONResponse:
    return _act(request, path.id, cancel_job)


def retry(request: Request, path: IdPath) -> JSONResponse:
    return _act(request, path.id, retry_job)


def queue_view(request: Request) -> JSONResponse:
    with _session(request) as session:
        return JSONResponse(queue_overview(session, request.app.state.settings))


def create_pipeline_route(
    request: Request, body: PipelineBody, raw: dict[str, Any]
) -> JSONResponse:
    cpu_only = request.app.state.settings.cpu_only
    pipeline = body
    steps = [
        StepSpec(
            type=step.type,
            params=dict(sent.get("params") or {}),
            depends_on=tuple(step.depends_on),
            priority=step.priority,
            resource_category=step.resource_category,
            vram_required=step.vram_required,
            cpu_only=cpu_only,
        )
        for step, sent in zip(pipeline.steps, raw["steps"], strict=True)
    ]
    with _session(request) as session:
        with session.begin():
            pipeline_id = create_pipeline(session, pipeline.name, steps)
        return JSONResponse(pipeline_json(session, pipeline_id), status_code=201)


def pipeline_json(session: Session, pipeline_id: int) -> dict[str, Any]:
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise ApiError.not_found("Pipeline not found")
    steps = session.scalars(
        select(PipelineStep)
        .where(PipelineStep.pipeline_id == pipeline_id)
        .order_by(PipelineStep.step_index)
    ).all()
    jobs = {
        j.pipeline_step_id: j
        for j in session.scalars(select(Job).where(Job.pipeline_id == pipeline_id)).all()
    }
    return {
        "pipeline": {
            "id": pipeline.id,
            "name": pipeline.name,
            "status": pipeline.status,
            "createdAt": iso(pipeline.created_at),
            "completedAt": iso(pipeline.completed_at),
            "steps": [
                {
                    "id": s.id,
                    "stepIndex": s.step_index,
                    "type": s.type,
                    "params": s.params,
                    "dependsOn": s.depends_on,
                    "job": job_to_json(jobs[s.id]) if s.id in jobs else None,
                }
                for s in steps
            ],
        },
        "jobs": [job_to_json(jobs[s.id]) for s in steps if s.id in jobs],
    }


def get_pipeline(request: Request, path: IdPath) -> JSONResponse:
    pipeline_id = path.id
    with _session(request) as session:
        return JSONResponse(pipeline_json(session, pipeline_id))


JOB_ID = {"id": "$response.body#/job/id"}
JOB_LINKS = (
    ("get", "GET /api/jobs/{id}"),
    ("cancel", "POST /api/jobs/{id}/cancel"),
    ("retry", "POST /api/jobs/{id}/retry"),
)


def _admin(summary: str, ok: Any, **more: Any) -> Endpoint:
    return Endpoint(summary, ok, auth="admin", **more)


ROUTES = [
    api(
        "/api/jobs",
        create_job,
        _admin(
            "Enqueue a job (or {jobs: [...]} in bulk); params are checked against the type's model",
            a.JobAnswer | a.Enqueued,
            status=201,
            body=ENQUEUE_BODY,
            max_body=16 * 1024 * 1024,
            also={200: a.JobAnswer},  # a live job with the same uniqueKey: that job
            links=tuple(Link(n, t, JOB_ID) for n, t in JOB_LINKS),
        ),
        "POST",
    ),
    api("/api/jobs", list_jobs, _admin("List jobs", a.JobPage, query=JobsQuery)),
    api(
        "/api/jobs/queue",
        queue_view,
        _admin("Queue overview: per class counts, hosts and GPUs", a.QueueOverview),
    ),
    api("/api/jobs/{id:int}", get_job, _admin("One job", a.JobJson, path=IdPath)),
    api(
        "/api/jobs/{id}/cancel",
        cancel,
        _admin("Cancel a job", a.JobAnswer, path=IdPath),
        "POST",
    ),
    api(
        "/api/jobs/{id}/retry",
        retry,
        _admin("Retry a failed or cancelled job", a.JobAnswer, path=IdPath),
        "POST",
    ),
    api(
        "/api/pipelines",
        create_pipeline_route,
        _admin(
            "Create a pipeline of job steps",
            a.PipelineAnswer,
            status=201,
            body=PipelineBody,
            max_body=1024 * 1024,
            links=(Link("get", "GET /api/pipelines/{id}", {"id": "$response.body#/pipeline/id"}),),
        ),
        "POST",
    ),
    api(
        "/api/pipelines/{id}",
        get_pipeline,
        _admin("A pipeline with its steps and jobs", a.PipelineAnswer, path=IdPath),
    ),
]
