"""``thumbnail`` ``{videoId, at?, width?}``: (re)make a video's thumbnail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, update

from mediaq.errors import InvalidParams
from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.catalog import get_video
from tasks.media.frames import extract_frame
from tasks.media.jobio import load_source
from tasks.media.params import get_float, get_int, video_id
from tasks.media.scanner import thumbnail_file, thumbnail_time
from tasks.registry import handler


@handler("thumbnail")
def run_thumbnail(ctx: JobContext) -> dict[str, Any]:
    source = load_source(ctx, video_id(ctx.params))
    at = get_float(ctx.params, "at", thumbnail_time(source.duration_s), 0.0)
    if at >= source.duration_s:
        raise InvalidParams(f"at {at} is past the end ({source.duration_s:.2f} s)")
    width = get_int(ctx.params, "width", 320, 16, 1920)
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
