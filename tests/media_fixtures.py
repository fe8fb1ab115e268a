"""Test media made with ffmpeg's test sources (never committed), and running one job inline.

``make_video`` encodes a short clip from ``testsrc`` (or a flat colour) with an optional
``sine`` tone; clips are cached per shape for the whole test session and copied, because
encoding is the slow part. ``run_inline`` runs one job through the real claim, handler and
outcome code in this process (no broker), for tests that look at one handler.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mediaq.db import engine_for, transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from tasks.run_job import WorkerRuntime, execute_job

_CACHE = Path(tempfile.gettempdir()) / "mediaq-test-media"


def _ffmpeg(args: Sequence[str]) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=120,
    )


def _video_source(source: str, width: int, height: int, fps: int, seconds: float) -> str:
    size = f"s={width}x{height}:r={fps}:d={seconds}"
    if source in ("testsrc", "testsrc2", "smptebars", "rgbtestsrc"):
        return f"{source}={size}"
    if source == "noise":  # moving noise: plenty of motion
        return f"color=c=gray:{size},noise=alls=60:allf=t+u"
    return f"color=c={source}:{size}"


def make_video(
    dst: Path,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    audio: bool = True,
    fps: int = 25,
    source: str = "testsrc",
    preset: str = "ultrafast",
    rotate: int = 0,
) -> Path:
    """An H.264 (+AAC) MP4 with a keyframe every second; cached by its parameters.

    ``rotate`` adds display-rotation metadata (as phones write it) without re-encoding.
    """
    key = json.dumps([seconds, width, height, audio, fps, source, preset, rotate])
    cached = _CACHE / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.mp4"
    if not cached.exists():
        _CACHE.mkdir(parents=True, exist_ok=True)
        args = ["-f", "lavfi", "-i", _video_source(source, width, height, fps, seconds)]
        if audio:
            args += ["-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={seconds}"]
        args += ["-c:v", "libx264", "-preset", preset, "-g", str(fps), "-pix_fmt", "yuv420p"]
        if audio:
            args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
        tmp = cached.with_suffix(".tmp.mp4")
        _ffmpeg([*args, str(tmp)])
        if rotate:
            turned = cached.with_suffix(".rot.mp4")
            _ffmpeg(
                ["-i", str(tmp), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(turned)]
            )
            turned.replace(tmp)
        tmp.rename(cached)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, dst)
    return dst


def make_scenes_video(
    dst: Path,
    sources: Sequence[str],
    seconds_each: float = 1.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
) -> Path:
    """One clip made of hard cuts between ``sources`` (testsrc, smptebars, colours...)."""
    args: list[str] = []
    for source in sources:
        args += ["-f", "lavfi", "-i", _video_source(source, width, height, fps, seconds_each)]
    total = seconds_each * len(sources)
    args += ["-f", "lavfi", "-i", f"sine=f=330:sample_rate=48000:d={total}"]
    pads = "".join(f"[{i}:v]" for i in range(len(sources)))
    graph = f"{pads}concat=n={len(sources)}:v=1:a=0[v]"
    dst.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        [
            *args,
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            f"{len(sources)}:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            str(fps),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(dst),
        ]
    )
    return dst


@dataclass(frozen=True)
class InlineRun:
    job_id: int
    status: str
    result: dict[str, Any] | None
    log: str


def run_inline(settings: Settings, job_type: str, params: dict[str, Any]) -> InlineRun:
    """Write a job, mark it admitted, and run it here through ``execute_job``."""
    with transaction(settings.database_url) as session:
        job_id = enqueue(session, JobSpec(job_type, params, resource_category="cpu"))
        session.execute(text("UPDATE jobs SET status = 'queued' WHERE id = :id"), {"id": job_id})
    execute_queued(settings, job_id)
    return job_row(settings, job_id)


def execute_queued(settings: Settings, job_id: int) -> None:
    """Run one queued job here, then close the runtime's own connections."""
    runtime = WorkerRuntime(settings)
    try:
        execute_job(runtime, job_id, 0)
    finally:  # its single-statement engines live as long as a worker process would
        runtime.close()


def job_row(settings: Settings, job_id: int) -> InlineRun:
    with engine_for(settings.database_url).connect() as conn:
        row = conn.execute(
            text("SELECT status, result, log FROM jobs WHERE id = :id"), {"id": job_id}
        ).one()
    return InlineRun(job_id, row.status, row.result, row.log or "")


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON view of a file (format and streams): the independent check of outputs."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(out.stdout))


def video_stream(info: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def has_audio_stream(info: dict[str, Any]) -> bool:
    return any(s["codec_type"] == "audio" for s in info["streams"])


def duration_of(info: dict[str, Any]) -> float:
    return float(info["format"]["duration"])


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _NoLengthHandler(BaseHTTPRequestHandler):
    """Streams the file without a Content-Length (as a lying or chunking server would)."""

    protocol_version = "HTTP/1.0"
    folder = Path(".")

    def do_GET(self) -> None:
        path = self.folder / self.path.lstrip("/")
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.end_headers()
        with open(path, "rb") as fh:
            shutil.copyfileobj(fh, self.wfile, 64 * 1024)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serve_folder(folder: Path, send_length: bool = True) -> Iterator[str]:
    """An http server on 127.0.0.1 (only) serving ``folder``; yields its base URL."""
    if send_length:
        factory: Any = partial(_QuietHandler, directory=str(folder))
    else:
        factory = type("Handler", (_NoLengthHandler,), {"folder": folder})
    server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
