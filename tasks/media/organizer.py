"""Standardizing where a video lives: its file name and, for studios, its folder.

``plan_placement`` is pure; ``organize_video`` moves the file (never over an existing one)
and records the original name and path in the same step as the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import func, select, update

from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.labels import directory_type_for
from tasks.media.names import (
    first_free_name,
    is_numbered_variant,
    producer_from_path,
    standard_filename,
    studio_folder,
    title_from_filename,
)
from tasks.media.outputs import move_no_clobber


@dataclass(frozen=True)
class Placement:
    folder: PurePath
    name: str
    producer: str | None
    title: str


def relative_to_library(path: PurePath, library_root: PurePath) -> PurePath:
    try:
        return path.relative_to(library_root)
    except ValueError:
        return PurePath(path.name)


def plan_placement(
    path: PurePath,
    library_root: PurePath,
    producer: str | None,
    title: str | None,
    quality: str | None,
    by_studio: bool,
) -> Placement:
    """Where a video belongs: ``<producer>-<title>-<quality>.<ext>``, in its own folder or
    (``by_studio``) in ``studios/<producer>/``."""
    relative = relative_to_library(path, library_root)
    producer = producer or producer_from_path(relative)
    title = title or title_from_filename(path.name)
    name = standard_filename(producer, title, quality, path.suffix or ".mp4")
    folder = library_root / "studios" / studio_folder(producer) if by_studio else path.parent
    return Placement(folder, name, producer, title)


def organize_video(
    ctx: JobContext, video: Video, library_root: Path, by_studio: bool
) -> dict[str, Any]:
    """Move one video into place and record it; returns what happened."""
    current = Path(video.path)
    plan = plan_placement(
        current, library_root, video.producer, video.title, video.quality, by_studio
    )
    folder = Path(plan.folder)
    if current.parent == folder and is_numbered_variant(current.name, plan.name):
        target = current  # already in place (a numbered name kept it off another file)
    else:
        with ctx.session() as session:
            name = first_free_name(plan.name, lambda n: _taken(session, folder / n))
        target = folder / name
        move_no_clobber(current, target)
    try:
        with ctx.session() as session:
            session.execute(
                update(Video)
                .where(Video.id == video.id)
                .values(
                    path=str(target),
                    filename=target.name,
                    producer=plan.producer,
                    title=plan.title,
                    directory_type=directory_type_for(relative_to_library(target, library_root)),
                    original_filename=func.coalesce(Video.original_filename, current.name),
                    original_path=func.coalesce(Video.original_path, str(current)),
                    standardized_at=func.now(),
                    updated_at=func.now(),
                )
            )
    except BaseException:
        if target != current:
            move_no_clobber(target, current)
        raise
    return {"videoId": video.id, "from": str(current), "to": str(target)}


def _taken(session: Any, path: Path) -> bool:
    if path.exists():
        return True
    return session.scalar(select(Video.id).where(Video.path == str(path))) is not None
