"""``thumbnail`` ``{videoId, at?, width?}``: (re)make a video's thumbnail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, update

from mediaq.errors import InvalidParams
from mediaq.jobparams import ThumbnailParams
from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.catalog import get_video
from tasks.media.frames import extract_frame
from tasks.media.jobio import load_source
from tasks.media.params import read_params
from tasks.media.scanner import thumbnail_file, thumbnail_time


def run_thumbnail(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, ThumbnailParams)
    source = load_source(ctx, p.video_id)
    at = p.at if p.at is not None else thumbnail_time(source.duration_s)
    if at >= source.duration_s:
        raise InvalidParams(f"at {at} is past the end ({source.duration_s:.2f} s)")
    width = p.width
    with ctx.session() as session:
        file_hash = get_video(session, source.video_id).file_hash
    folder = Path(ctx.settings.thumbnail_root).resolve() / "videos"
    target = thumbnail_file(folder, source.video_id, file_hash)
    extract_frame(source.path, at, target, width)
    with ctx.session() as session:
        session.execute(
            update(Video)
            .where(Video.id == source.video_id)
            .values(thumbnail_path=str(target), updated_at=func.now())
        )
    return {"videoId": source.video_id, "thumbnailPath": str(target), "at": at, "width": width}
