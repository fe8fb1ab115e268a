"""``mediaq jobs``: a table of jobs, or one job followed with a live progress bar."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from mediaq.db import session_factory
from mediaq.jobstates import TERMINAL
from mediaq.models import Job
from mediaq.settings import Settings
from ops.exitcodes import FAILED, NOT_FOUND, OK


def output_paths(result: dict[str, Any] | None) -> list[str]:
    """The files a job's result names: ``path``, ``*Path``, ``hls``, lists under ``*Paths``."""
    found: list[str] = []
    for key, value in (result or {}).items():
        lowered = key.lower()
        if isinstance(value, str) and (lowered.endswith("path") or key == "hls"):
            found.append(value)
        elif isinstance(value, list) and lowered.endswith(("paths", "outputs")):
            found += [v for v in value if isinstance(v, str)]
    return found


def error_tail(job: Job, lines: int = 3) -> str:
    """Why a job failed: its last error, else the last lines of its log."""
    if job.last_error:
        return job.last_error.strip()
    tail = [ln for ln in (job.log or "").splitlines() if ln.strip()]
    return " / ".join(tail[-lines:])


def outcome(job: Job) -> str:
    """The last column of ``mediaq jobs``: what a job is waiting for, made, or died of."""
    if job.status == "pending":
        return job.waiting_reason or ""
    if job.status in ("failed", "cancelled"):
        return error_tail(job)
    if job.status == "completed":
        return " ".join(output_paths(job.result))
    return job.assigned_host or ""


def print_jobs(settings: Settings, status: str | None = None, limit: int = 30) -> None:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    with session_factory(settings.database_url)() as session:
        rows = session.scalars(query).all()
    table = Table("id", "type", "status", "class", "prio", "progress", "pos")
    table.add_column("waiting / host / output / error", overflow="fold")
    for job in rows:
        table.add_row(
            str(job.id),
            job.type,
            job.status,
            job.resource_category,
            str(job.priority),
            f"{job.progress}%",
            str(job.queue_position or ""),
            outcome(job)[:300],
        )
    Console(width=max(160, Console().width)).print(table)


def job_note(job: Job) -> str:
    """Beside the bar: position and waiting reason while pending, else host and GPU."""
    if job.status == "pending":
        where = f"#{job.queue_position} in {job.resource_category}" if job.queue_position else ""
        return " · ".join(part for part in (where, job.waiting_reason or "") if part)
    if job.assigned_gpu:
        return f"{job.assigned_host or ''} / {job.assigned_gpu}"
    return job.assigned_host or ""


def follow_job(settings: Settings, job_id: int, poll_s: float = 0.5) -> int:
    """Show one job's progress until it ends; exit code 0 only when it completed."""
    sessions = session_factory(settings.database_url)
    console = Console()
    columns = (
        TextColumn("[bold]job {task.fields[job_id]}[/] {task.fields[status]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("job", total=100, job_id=job_id, status="?", note="")
        while True:
            with sessions() as session:
                job = session.get(Job, job_id)
            if job is None:
                console.print(f"job {job_id} not found")
                return NOT_FOUND
            progress.update(
                task, completed=job.progress, status=job.status, note=job_note(job)[:160]
            )
            if job.status in TERMINAL:
                break
            time.sleep(poll_s)
    if job.log:
        console.print(job.log[-2000:], markup=False, highlight=False)
    if job.status == "failed":
        console.print(f"error: {error_tail(job)}", markup=False, highlight=False)
    for path in output_paths(job.result):
        console.print(f"output: {path}", markup=False, highlight=False)
    return OK if job.status == "completed" else FAILED
