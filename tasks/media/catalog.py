"""Reading the library's rows for a job: a video by id, its file, its reactions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaq.errors import InvalidParams, UnreadableMedia
from mediaq.models import PublicMedia, Video, VideoReaction


def get_video(session: Session, video_id: int) -> Video:
    """The video row; InvalidParams when there is none."""
    video = session.get(Video, video_id)
    if video is None:
        raise InvalidParams(f"video {video_id} does not exist")
    return video


def get_videos(session: Session, ids: Sequence[int]) -> list[Video]:
    """The rows of ``ids`` in the order given (an id may repeat)."""
    rows = session.scalars(select(Video).where(Video.id.in_(set(ids)))).all()
    by_id = {v.id: v for v in rows}
    missing = sorted(set(ids) - set(by_id))
    if len(missing) == 1:
        raise InvalidParams(f"video {missing[0]} does not exist")
    if missing:
        raise InvalidParams(f"videos {missing} do not exist")
    return [by_id[i] for i in ids]


def video_file(video: Video) -> Path:
    """The video's file on disk; UnreadableMedia when it is gone."""
    path = Path(video.path)
    if not path.is_file():
        raise UnreadableMedia(f"video {video.id}: file {path} is missing")
    return path


def reaction_timestamps(session: Session, video_id: int) -> list[int]:
    """Seconds into the video of every reaction to its public copies.

    Reactions point at ``public_media.id``; the library video is reached through
    ``public_media.video_id``.
    """
    rows = session.execute(
        select(VideoReaction.video_timestamp)
        .join(PublicMedia, PublicMedia.id == VideoReaction.media_id)
        .where(PublicMedia.video_id == video_id)
        .order_by(VideoReaction.video_timestamp)
    )
    return [int(r[0]) for r in rows]
