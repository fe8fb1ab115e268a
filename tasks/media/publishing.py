"""Publishing library videos to the public gallery and taking them back.

Publishing copies (hard-links where it can) a file into ``<public_root>/<category>/`` and
adds a ``public_media`` row that points back with ``video_id``. Unpublishing removes the row
and its gallery file, and first adds the item's engagement counters to the video's
``public_*`` columns (the seed's "historical engagement stats") with ``moved_from_public_at``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from mediaq.errors import InvalidParams
from mediaq.jobparams import UnpublishParams
from mediaq.models import PublicMedia, Video
from tasks.media.outputs import copy_no_clobber, free_path
from tasks.media.probe import ProbeResult


def find_published(session: Session, video_id: int, category: str) -> PublicMedia | None:
    """The visible gallery item of this video in this category, if there is one."""
    return session.scalars(
        select(PublicMedia).where(
            PublicMedia.video_id == video_id,
            PublicMedia.category == category,
            PublicMedia.is_locked.is_(False),
        )
    ).first()


def dependency_output(session: Session, job_id: int, job_type: str) -> str | None:
    """The ``result.path`` of a completed job of ``job_type`` this job depends on."""
    row = session.execute(
        text(
            """
            SELECT d.result ->> 'path' AS path FROM jobs j JOIN jobs d ON d.id = ANY(j.depends_on)
             WHERE j.id = :id AND d.type = :type AND d.status = 'completed'
             ORDER BY d.id DESC LIMIT 1
            """
        ),
        {"id": job_id, "type": job_type},
    ).first()
    return row.path if row is not None else None


def place_in_gallery(public_root: Path, category: str, source: Path, name: str) -> Path:
    """Copy ``source`` into the category folder under a free name; return where it went."""
    target = free_path(public_root / category, name)
    copy_no_clobber(source, target)
    return target


def insert_public_media(
    session: Session,
    video: Video,
    target: Path,
    category: str,
    probe: ProbeResult,
) -> int:
    return int(
        session.execute(
            insert(PublicMedia)
            .values(
                path=str(target),
                filename=target.name,
                category=category,
                duration_seconds=probe.duration_seconds,
                quality=probe.quality,
                orientation=probe.orientation,
                thumbnail_path=video.thumbnail_path,
                file_size=target.stat().st_size,
                video_id=video.id,
            )
            .returning(PublicMedia.id)
        ).scalar_one()
    )


def media_to_unpublish(session: Session, params: UnpublishParams) -> list[PublicMedia]:
    """The gallery rows named by ``mediaId`` or (all of) ``videoId``, locked for update."""
    query = select(PublicMedia).with_for_update()
    if params.media_id is not None:
        query = query.where(PublicMedia.id == params.media_id)
    elif params.video_id is not None:
        query = query.where(PublicMedia.video_id == params.video_id)
    else:
        raise InvalidParams("give mediaId or videoId")
    return list(session.scalars(query.order_by(PublicMedia.id)))


def keep_history_and_remove(session: Session, media: PublicMedia, video_id: int) -> None:
    """Add the item's counters to the video's ``public_*`` columns, then delete the item."""
    session.execute(
        update(Video)
        .where(Video.id == video_id)
        .values(
            public_view_count=func.coalesce(Video.public_view_count, 0) + media.view_count,
            public_upvote_count=func.coalesce(Video.public_upvote_count, 0) + media.upvote_count,
            public_comment_count=func.coalesce(Video.public_comment_count, 0) + media.comment_count,
            public_completion_count=func.coalesce(Video.public_completion_count, 0)
            + media.finish_count,
            public_total_watch_time=func.coalesce(Video.public_total_watch_time, 0)
            + media.total_watch_time,
            moved_from_public_at=func.now(),
            updated_at=func.now(),
        )
    )
    session.execute(delete(PublicMedia).where(PublicMedia.id == media.id))
