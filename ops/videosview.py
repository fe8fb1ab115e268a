"""``mediaq videos``: the library's videos, searched by name and filtered by directory type."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy import or_, select

from mediaq.db import session_factory
from mediaq.likes import contains_pattern
from mediaq.models import Video
from mediaq.settings import Settings


def print_videos(
    settings: Settings, search: str | None, directory_type: str | None, limit: int
) -> int:
    query = select(Video).order_by(Video.id.desc()).limit(limit)
    if search:
        pattern = contains_pattern(search)
        query = query.where(
            or_(
                Video.filename.ilike(pattern, escape="\\"),
                Video.title.ilike(pattern, escape="\\"),
                Video.producer.ilike(pattern, escape="\\"),
                Video.path.ilike(pattern, escape="\\"),
            )
        )
    if directory_type:
        query = query.where(Video.directory_type == directory_type)
    with session_factory(settings.database_url)() as session:
        rows = session.scalars(query).all()
    table = Table("id", "filename", "type", "duration", "size", "producer", "path")
    for v in rows:
        size = f"{v.width}x{v.height}" if v.width and v.height else ""
        duration = f"{v.duration_seconds} s" if v.duration_seconds is not None else ""
        table.add_row(
            str(v.id),
            v.filename,
            v.directory_type or "",
            duration,
            size,
            v.producer or "",
            v.path,
        )
    Console(width=200).print(table)
    print(f"{len(rows)} video(s)" + (f" (first {limit})" if len(rows) == limit else ""))
    return 0
