"""What most media handlers start and end with: the source video, and a look at the output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.context import JobContext
from tasks.media.catalog import get_video, get_videos, video_file
from tasks.media.probe import ProbeResult, probe_file


@dataclass(frozen=True)
class Source:
    """A library video a job reads: its row id, file, title and a fresh probe."""

    video_id: int
    path: Path
    title: str
    probe: ProbeResult

    @property
    def duration_s(self) -> float:
        return self.probe.duration_s


def load_source(ctx: JobContext, video_id: int) -> Source:
    """Look the video up and probe its file (InvalidParams / UnreadableMedia when wrong)."""
    return load_sources(ctx, [video_id])[0]


def load_sources(ctx: JobContext, ids: list[int]) -> list[Source]:
    """Several sources in the order given; each distinct file is probed once."""
    with ctx.session() as session:
        rows = [
            (v.id, video_file(v), v.title or Path(v.path).stem) for v in get_videos(session, ids)
        ]
    probes: dict[Path, ProbeResult] = {}
    sources = []
    for vid, path, title in rows:
        if path not in probes:
            probes[path] = probe_file(path)
        sources.append(Source(vid, path, title, probes[path]))
    return sources


def video_title(ctx: JobContext, video_id: int) -> str:
    with ctx.session() as session:
        video = get_video(session, video_id)
        return video.title or Path(video.path).stem


def describe_output(path: Path) -> dict[str, Any]:
    """The output as the job result shows it, measured by probing the written file."""
    probe = probe_file(path)
    return {
        "path": str(path),
        "sizeBytes": path.stat().st_size,
        "durationS": round(probe.duration_s, 3),
        "width": probe.width,
        "height": probe.height,
        "hasAudio": probe.has_audio,
    }
