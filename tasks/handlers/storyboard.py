"""``storyboard`` ``{mediaId, interval?, width?, columns?, rows?}``: seek previews of an item.

Sprite sheets and the WebVTT track are written into a folder private to this job
(``<thumbnails>/storyboards/m<media>-j<job>/``, renamed into place only when complete), then
``public_media.storyboard_path`` points at the new track and the previous folder, if any, is
removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from mediaq.errors import InvalidParams
from mediaq.jobparams import StoryboardParams
from mediaq.models import PublicMedia
from tasks.context import JobContext
from tasks.media.ffmpeg import run_ffmpeg
from tasks.media.outputs import atomic_dir
from tasks.media.params import read_params
from tasks.media.probe import probe_file
from tasks.media.storyboard import (
    SPRITE_PATTERN,
    VTT_NAME,
    auto_interval,
    cues,
    ffmpeg_filter,
    frame_height,
    render_vtt,
)


def run_storyboard(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, StoryboardParams)
    with ctx.session() as session:
        media = session.scalars(select(PublicMedia).where(PublicMedia.id == p.media_id)).first()
        if media is None:
            raise InvalidParams(f"media {p.media_id} does not exist")
        source, previous = Path(media.path), media.storyboard_path
    if not source.is_file():
        raise InvalidParams(f"media {p.media_id}: its file is missing")
    probe = probe_file(source)
    duration = max(probe.duration_s, 0.04)
    interval = p.interval or auto_interval(duration)
    w = p.width
    h = frame_height(w, probe.width or 0, probe.height or 0)
    track = cues(duration, interval, w, h, p.columns, p.rows)
    root = Path(ctx.settings.thumbnail_root).resolve() / "storyboards"
    final = root / f"m{p.media_id}-j{ctx.job_id}"
    with atomic_dir(final, ctx) as tmp:
        argv = [
            "ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(source),
            "-an", "-sn", "-vf", ffmpeg_filter(interval, w, h, p.columns, p.rows),
            "-q:v", "5", "-fps_mode", "passthrough", str(tmp / SPRITE_PATTERN),
        ]  # fmt: skip
        run_ffmpeg(ctx, argv, duration, what="storyboard")
        sheets = sorted(tmp.glob("sprite-*.jpg"))
        if not sheets:
            raise InvalidParams(f"media {p.media_id}: no frame could be read")
        known = {s.name for s in sheets}
        # ffmpeg may emit one frame fewer than planned at the very end: keep what exists
        track = [c for c in track if c.sheet in known] or track[:1]
        (tmp / VTT_NAME).write_text(render_vtt(track, prefix="storyboard/"))
    vtt = final / VTT_NAME
    with ctx.session() as session:
        session.execute(
            update(PublicMedia).where(PublicMedia.id == p.media_id).values(storyboard_path=str(vtt))
        )
    if previous and Path(previous).parent != final:
        old = Path(previous).parent
        if old.resolve().is_relative_to(root):
            shutil.rmtree(old, ignore_errors=True)
    return {
        "mediaId": p.media_id,
        "path": str(vtt),
        "frames": len(track),
        "sheets": len(sheets),
        "interval": interval,
        "frameWidth": w,
        "frameHeight": h,
    }
