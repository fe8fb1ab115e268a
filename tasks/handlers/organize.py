"""``organize`` / ``organize_studio`` ``{videoIds?}``: standardized names (and studio folders).

Without ``videoIds`` every valid, not yet standardized video under the library root is
organized. Files are never overwritten: a taken name gets ``-2``, ``-3``...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from mediaq.jobparams import BATCH_LIMIT, OrganizeParams
from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.organizer import organize_video
from tasks.media.params import read_params
from tasks.media.scanner import under


def _videos(ctx: JobContext, library: Path) -> list[Video]:
    query = select(Video).order_by(Video.id)
    ids = read_params(ctx.params, OrganizeParams).video_ids
    if ids is not None:
        query = query.where(Video.id.in_(ids))
    else:
        query = query.where(
            Video.standardized_at.is_(None),
            Video.is_valid.is_not(False),
            Video.path.like(under(library)),
        ).limit(BATCH_LIMIT)
    with ctx.session() as session:
        return list(session.scalars(query))


def _organize(ctx: JobContext, by_studio: bool) -> dict[str, Any]:
    library = Path(ctx.settings.library_root).resolve()
    videos = _videos(ctx, library)
    moved: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    skipped: list[int] = []
    for index, video in enumerate(videos):
        ctx.check_cancelled()
        if video.is_valid is False or not Path(video.path).is_file():
            skipped.append(video.id)
            ctx.log(f"video {video.id}: skipped (invalid or file missing)")
            continue
        outcome = organize_video(ctx, video, library, by_studio)
        (moved if outcome["from"] != outcome["to"] else kept).append(outcome)
        if outcome["from"] != outcome["to"]:
            ctx.log(f"video {video.id}: {outcome['from']} -> {outcome['to']}")
        ctx.progress(100 * (index + 1) / len(videos))
    return {"moved": moved, "alreadyStandard": kept, "skipped": skipped}


def run_organize(ctx: JobContext) -> dict[str, Any]:
    return _organize(ctx, by_studio=False)


def run_organize_studio(ctx: JobContext) -> dict[str, Any]:
    return _organize(ctx, by_studio=True)
