"""``mediaq demo``: make a few test videos and run them through the live system.

It talks to the running system (``mediaq up``, or a compose deployment sharing the library
folder) through the database, like any producer: it writes short clips with ffmpeg's test
sources into the library, enqueues a ``scan`` of them, then a re-encode, a GIF, a 2×2 quad
compilation, and a ``publish`` of each of those products to the public gallery, showing one
live progress bar per job (with its waiting reason while it waits) until they finish. Then
it prints where to look: the gallery, Flower and the queue dashboard.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text

from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.errors import MediaqError
from mediaq.jobstates import TERMINAL
from mediaq.jobtypes import JOB_TYPES
from mediaq.settings import Settings
from ops.hints import mediaq_command
from ops.up import local_host

POLL_S = 0.3
CLIP_SIZE = "320x240"


@dataclass(frozen=True)
class DemoOptions:
    flower_port: int = 5555
    clip_seconds: float = 3.0
    timeout_s: float = 600.0
    gpu: str = "auto"  # auto | yes | no


@dataclass(frozen=True)
class Clip:
    """One test clip: a lavfi video source and a tone for its audio."""

    label: str
    source: str
    tone_hz: int


CLIPS = (
    Clip("testsrc", "testsrc2", 440),
    Clip("bars", "smptehdbars", 554),
    Clip("mandelbrot", "mandelbrot", 659),
    Clip("gradients", "gradients", 880),
)


@dataclass(frozen=True)
class JobView:
    """What a progress bar shows of one job."""

    id: int
    type: str
    status: str
    progress: int
    note: str
    result: dict[str, Any] | None


# ---- pure -------------------------------------------------------------------------------------
def clip_argv(clip: Clip, path: Path, seconds: float, size: str = CLIP_SIZE) -> list[str]:
    """The ffmpeg command that writes one H.264/AAC test clip."""
    return [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{clip.source}=size={size}:rate=25",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={clip.tone_hz}",
        "-t",
        f"{seconds:g}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(path),
    ]


def clip_paths(folder: Path, tag: str) -> list[Path]:
    """Unique file names: a scan run finds exactly these clips by name."""
    return [folder / f"demo-{tag}-{i + 1}-{clip.label}.mp4" for i, clip in enumerate(CLIPS)]


def media_specs(video_ids: Sequence[int], use_gpu: bool) -> list[JobSpec]:
    """The media jobs the demo runs once the clips are scanned (GPU classes only if asked)."""
    first, second = video_ids[0], video_ids[1 % len(video_ids)]
    specs = [
        JobSpec("reencode_streaming", {"videoId": first}),
        JobSpec("generate_gif", {"videoId": second, "duration": 2, "width": 240}),
        JobSpec("compile_quad", {"videoIds": list(video_ids[:4])}),
    ]
    if use_gpu:
        return specs
    return [_on_cpu(spec) for spec in specs]


# Where each product goes in the public gallery.
GALLERY_CATEGORY = {
    "reencode_streaming": "videos",
    "generate_gif": "gifs",
    "compile_quad": "compilations",
}


def publish_specs(done: Sequence[JobView]) -> list[JobSpec]:
    """A ``publish`` of every product that was made: the web video, the GIF, the quad."""
    specs = []
    for view in done:
        category = GALLERY_CATEGORY.get(view.type)
        result = view.result or {}
        if view.status != "completed" or category is None or not result.get("path"):
            continue
        video = result.get("videoId") or (result.get("videoIds") or [None])[0]
        if video is None:
            continue
        params = {"videoId": int(video), "path": str(result["path"]), "category": category}
        specs.append(JobSpec("publish", params))
    return specs


def storyboard_of(view: JobView) -> int | None:
    """The storyboard job a finished publish enqueued, if any."""
    job = (view.result or {}).get("storyboardJobId")
    return int(job) if job else None


def _on_cpu(spec: JobSpec) -> JobSpec:
    if JOB_TYPES[spec.type].resource_category == "cpu":
        return spec
    return JobSpec(spec.type, spec.params, spec.priority, "cpu", 0)


def note_for(
    status: str, waiting_reason: str | None, last_error: str | None, host: str | None
) -> str:
    """The text beside a bar: why it waits, where it runs, or why it failed."""
    if status == "pending":
        return waiting_reason or "waiting for the scheduler"
    if status in ("queued", "running"):
        return f"on {host}" if host else status
    if status == "failed":
        return (last_error or "failed").splitlines()[-1][:120]
    return ""


def summarize_result(result: dict[str, Any] | None, limit: int = 200) -> str:
    """One line about what a job produced: its gallery item, or its output file."""
    if not result:
        return ""
    if "mediaId" in result:
        return f"gallery item {result['mediaId']} in {result.get('category', '?')}"
    if "path" in result:
        return str(result["path"])[:limit]
    return json.dumps(result, default=str)[:limit]


# ---- I/O ----------------------------------------------------------------------------------
def make_clips(folder: Path, tag: str, seconds: float) -> list[Path]:
    """Write the test clips with ffmpeg; raise with ffmpeg's message if it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = clip_paths(folder, tag)
    for clip, path in zip(CLIPS, paths, strict=True):
        done = subprocess.run(clip_argv(clip, path, seconds), capture_output=True, text=True)
        if done.returncode != 0:
            raise MediaqError(f"ffmpeg could not make {path.name}: {done.stderr.strip()[-500:]}")
    return paths


def live_hosts(settings: Settings) -> tuple[int, int]:
    """(live worker hosts serving cpu, live healthy GPUs on hosts serving gpu_encode)."""
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT
                  (SELECT count(*) FROM worker_hosts
                    WHERE last_seen > now() - make_interval(secs => :t)
                      AND classes ? 'cpu') AS cpu_hosts,
                  (SELECT count(*) FROM gpus g JOIN worker_hosts h ON h.name = g.host_name
                    WHERE g.healthy AND h.classes ? 'gpu_encode'
                      AND h.last_seen > now() - make_interval(secs => :t)) AS gpus
                """
            ),
            {"t": settings.host_timeout_s},
        ).one()
    return int(row.cpu_hosts), int(row.gpus)


def read_jobs(settings: Settings, ids: Sequence[int]) -> list[JobView]:
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, type, status, progress, waiting_reason, last_error, assigned_host,"
                " result FROM jobs WHERE id = ANY(:ids) ORDER BY id"
            ),
            {"ids": list(ids)},
        ).all()
    return [
        JobView(
            r.id,
            r.type,
            r.status,
            r.progress,
            note_for(r.status, r.waiting_reason, r.last_error, r.assigned_host),
            r.result,
        )
        for r in rows
    ]


def follow(
    settings: Settings, ids: Sequence[int], console: Console, deadline: float
) -> list[JobView]:
    """Live progress bars until every job ends or the deadline passes; the last views."""
    columns = (
        TextColumn("[bold]#{task.fields[job_id]:<5}[/] {task.description:<20}"),
        BarColumn(bar_width=30),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]:<9}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    views: list[JobView] = []
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[int, TaskID] = {}
        while True:
            views = read_jobs(settings, ids)
            for view in views:
                if view.id not in bars:
                    bars[view.id] = progress.add_task(
                        view.type, total=100, job_id=view.id, status="", note=""
                    )
                progress.update(
                    bars[view.id],
                    completed=view.progress,
                    status=view.status,
                    note=view.note[:90],
                )
            if all(v.status in TERMINAL for v in views) or time.monotonic() > deadline:
                return views
            time.sleep(POLL_S)


def enqueue_all(settings: Settings, specs: Sequence[JobSpec]) -> list[int]:
    with transaction(settings.database_url) as session:
        return [enqueue(session, spec) for spec in specs]


def video_ids_by_name(settings: Settings, paths: Sequence[Path]) -> list[int]:
    """The ids the scan gave the clips, in clip order."""
    names = [p.name for p in paths]
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            text("SELECT id, filename FROM videos WHERE filename = ANY(:n) ORDER BY id"),
            {"n": names},
        ).all()
    by_name = {r.filename: r.id for r in rows}
    return [by_name[n] for n in names if n in by_name]


def run_demo(settings: Settings, options: DemoOptions, console: Console | None = None) -> int:
    """The whole demo; 0 when every job completed."""
    console = console or Console()
    deadline = time.monotonic() + options.timeout_s
    cpu_hosts, gpus = live_hosts(settings)
    if cpu_hosts == 0:
        mediaq = mediaq_command()
        console.print(
            "[red]No live worker host serves the cpu class.[/] Start the system first with"
            f" `{mediaq} up` (or `docker compose up -d`), then run `{mediaq} demo` again."
        )
        return 1
    use_gpu = options.gpu == "yes" or (options.gpu == "auto" and gpus > 0 and not settings.cpu_only)
    if not use_gpu:
        console.print("No live GPU: the encode jobs run on the cpu class (libx264).")
    tag = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(settings.library_root) / "videos" / f"demo-{tag}"
    console.print(f"Making {len(CLIPS)} test clips of {options.clip_seconds:g} s in {folder}")
    paths = make_clips(folder, tag, options.clip_seconds)
    scan_ids = enqueue_all(settings, [JobSpec("scan", {"root": str(folder.resolve())})])
    views = follow(settings, scan_ids, console, deadline)
    video_ids = video_ids_by_name(settings, paths)
    if views[0].status != "completed" or len(video_ids) < len(paths):
        console.print(f"[red]The scan did not register the clips[/] ({views[0].note})")
        return 1
    ids = enqueue_all(settings, media_specs(video_ids, use_gpu))
    made = follow(settings, ids, console, deadline)
    publish_ids = enqueue_all(settings, publish_specs(made))
    published = follow(settings, publish_ids, console, deadline) if publish_ids else []
    # each publish enqueued the seek previews of its item: wait for them too
    previews = [job for job in map(storyboard_of, published) if job is not None]
    storyboards = follow(settings, previews, console, deadline) if previews else []
    views = [*made, *published, *storyboards]
    print_summary(settings, options, console, scan_ids + ids + publish_ids + previews, views)
    return 0 if all(v.status == "completed" for v in views) and len(published) == 3 else 1


def print_summary(
    settings: Settings,
    options: DemoOptions,
    console: Console,
    all_ids: Sequence[int],
    views: Sequence[JobView],
) -> None:
    table = Table("job", "type", "status")
    table.add_column("result", overflow="fold")
    for view in views:
        table.add_row(f"#{view.id}", view.type, view.status, summarize_result(view.result))
    console.print(table)
    unfinished = [v for v in views if v.status not in TERMINAL]
    if unfinished:
        console.print(f"[yellow]{len(unfinished)} job(s) still unfinished at the time limit[/]")
    base = f"http://{local_host(settings)}:{settings.api_port}"
    mediaq = mediaq_command()
    for line in (  # never wrapped: each is copied or clicked as printed
        f"Gallery:   {base}/gallery   (open it in a browser)",
        f"JSON:      {base}/api/media/public",
        f"Flower:    http://127.0.0.1:{options.flower_port}/",
        f"Dashboard: {dashboard_url(settings)}",
        f"Jobs:      {mediaq} jobs   (or {mediaq} jobs {all_ids[-1]} to follow one)",
    ):
        console.print(line, soft_wrap=True, markup=False, highlight=False)


def dashboard_url(settings: Settings) -> str:
    """The dashboard with an admin token when this process can mint one (JWT_SECRET set)."""
    from api_shim.auth import mint_token

    base = f"http://{local_host(settings)}:{settings.api_port}/admin/queue"
    if not settings.jwt_secret:
        return f"{base}   (sign in with the admin token `mediaq up` printed)"
    return f"{base}#token={mint_token(settings, 1, settings.admin_roles[0], 24 * 3600)}"
