"""``mediaq jobs``: a table of jobs, or one job followed with a live progress bar."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from mediaq.db import session_factory
from mediaq.jobstates import TERMINAL
from mediaq.models import Job
from mediaq.settings import Settings


def print_jobs(settings: Settings, status: str | None = None, limit: int = 30) -> None:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    with session_factory(settings.database_url)() as session:
        rows = session.scalars(query).all()
    table = Table("id", "type", "status", "class", "prio", "progress", "pos", "waiting / host")
    for job in rows:
        where = job.waiting_reason if job.status == "pending" else (job.assigned_host or "")
        table.add_row(
            str(job.id),
            job.type,
            job.status,
            job.resource_category,
            str(job.priority),
            f"{job.progress}%",
            str(job.queue_position or ""),
            (where or "")[:80],
        )
    Console().print(table)


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
                return 1
            progress.update(
                task, completed=job.progress, status=job.status, note=job_note(job)[:160]
            )
            if job.status in TERMINAL:
                break
            time.sleep(poll_s)
    if job.log:
        console.print(job.log[-2000:], markup=False, highlight=False)
    return 0 if job.status == "completed" else 1
