"""Scanning the public gallery tree into ``public_media``, category from the folder.

``public_media`` keeps no mtime or hash, so a file is unchanged while its row has the same
size; new and resized files are probed, given a thumbnail and linked to the library video
they copy (fingerprint first, then the content hash against ``videos.file_hash``). Files
that vanished are locked (hidden from the public endpoints) with the reason ``file missing``
and unlocked when they come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from mediaq.errors import UnreadableMedia
from mediaq.models import PublicMedia, Video
from tasks.context import JobContext
from tasks.media.frames import extract_frame
from tasks.media.hashing import hash_file
from tasks.media.names import slugify
from tasks.media.probe import ProbeResult, probe_file
from tasks.media.scanner import (
    MAX_LOGGED_PROBLEMS,
    THUMBNAIL_WIDTH,
    FileStat,
    thumbnail_time,
    under,
    walk_tree,
)

MISSING_REASON = "file missing"
UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True)
class KnownMedia:
    id: int
    size: int | None
    is_locked: bool
    locked_reason: str | None


def category_for(path: Path, root: Path) -> str:
    """The first folder under the gallery root names the category (slugged)."""
    parts = path.relative_to(root).parts
    if len(parts) < 2:
        return UNCATEGORIZED
    return slugify(parts[0], 60) or UNCATEGORIZED


class PublicScanner:
    def __init__(self, ctx: JobContext, root: Path) -> None:
        self.ctx = ctx
        self.root = root
        self.thumbnails = Path(ctx.settings.thumbnail_root).resolve() / "public"
        self.counts = {
            "files": 0,
            "inserted": 0,
            "updated": 0,
            "unchanged": 0,
            "restored": 0,
            "missing": 0,
            "unreadable": 0,
            "skipped": 0,
            "linked": 0,
            "hashedFiles": 0,
        }

    def scan(self, exclude: list[Path]) -> dict[str, Any]:
        files, skipped = walk_tree(self.root, exclude)
        self.counts["files"], self.counts["skipped"] = len(files), len(skipped)
        self.ctx.log(f"public scan {self.root}: {len(files)} video files, {len(skipped)} other")
        for path in skipped[:MAX_LOGGED_PROBLEMS]:
            self.ctx.log(f"skipped (not a video): {path}")
        known = self._load_known()
        for index, stat in enumerate(files):
            self.ctx.check_cancelled()
            self.visit(stat, known.get(stat.path))
            self.ctx.progress(100.0 * (index + 1) / max(1, len(files)))
        self._lock_missing(known, {f.path for f in files})
        return dict(self.counts)

    def _load_known(self) -> dict[str, KnownMedia]:
        with self.ctx.session() as session:
            rows = session.execute(
                select(
                    PublicMedia.id,
                    PublicMedia.path,
                    PublicMedia.file_size,
                    PublicMedia.is_locked,
                    PublicMedia.locked_reason,
                ).where(PublicMedia.path.like(under(self.root)))
            )
            return {
                r.path: KnownMedia(r.id, r.file_size, bool(r.is_locked), r.locked_reason)
                for r in rows
            }

    def visit(self, stat: FileStat, known: KnownMedia | None) -> None:
        if known is not None and known.size == stat.size:
            if known.is_locked and known.locked_reason == MISSING_REASON:
                self._unlock(known.id)
            else:
                self.counts["unchanged"] += 1
            return
        try:
            probe = probe_file(stat.path)
        except UnreadableMedia as exc:
            self.counts["unreadable"] += 1
            self.ctx.log(f"unreadable, skipped: {exc}")
            return
        path = Path(stat.path)
        with self.ctx.session() as session:
            video_id = self._library_twin(session, stat, probe)
            values = {
                "path": stat.path,
                "filename": path.name,
                "category": category_for(path, self.root),
                "duration_seconds": probe.duration_seconds,
                "quality": probe.quality,
                "orientation": probe.orientation,
                "file_size": stat.size,
                "video_id": video_id,
                "updated_at": func.now(),
            }
            media_id = self._write(session, values, known)
            thumb = self.thumbnails / f"{media_id}.jpg"
            try:
                extract_frame(path, thumbnail_time(probe.duration_s), thumb, THUMBNAIL_WIDTH)
                session.execute(
                    update(PublicMedia)
                    .where(PublicMedia.id == media_id)
                    .values(thumbnail_path=str(thumb))
                )
            except (UnreadableMedia, OSError) as exc:
                self.ctx.log(f"no thumbnail for {path}: {exc}")

    def _write(self, session: Session, values: dict[str, Any], known: KnownMedia | None) -> int:
        if known is None:
            self.counts["inserted"] += 1
            return int(
                session.execute(
                    insert(PublicMedia).values(**values).returning(PublicMedia.id)
                ).scalar_one()
            )
        self.counts["updated"] += 1
        session.execute(update(PublicMedia).where(PublicMedia.id == known.id).values(**values))
        return known.id

    def _library_twin(self, session: Session, stat: FileStat, probe: ProbeResult) -> int | None:
        """The library video this file is a copy of, if any (fingerprint, then hash)."""
        candidates = session.execute(
            select(Video.id, Video.file_hash)
            .where(
                Video.duration_seconds == probe.duration_seconds,
                Video.file_size == stat.size,
                Video.width == probe.width,
                Video.height == probe.height,
                Video.file_hash.is_not(None),
            )
            .order_by(Video.is_valid.desc(), Video.id)
        ).all()
        if not candidates:
            return None
        digest = hash_file(stat.path, lambda _: self.ctx.check_cancelled())
        self.counts["hashedFiles"] += 1
        for row in candidates:
            if row.file_hash == digest:
                self.counts["linked"] += 1
                return int(row.id)
        return None

    def _unlock(self, media_id: int) -> None:
        with self.ctx.session() as session:
            session.execute(
                update(PublicMedia)
                .where(PublicMedia.id == media_id, PublicMedia.locked_reason == MISSING_REASON)
                .values(is_locked=False, locked_at=None, locked_reason=None, updated_at=func.now())
            )
        self.counts["restored"] += 1

    def _lock_missing(self, known: dict[str, KnownMedia], seen: set[str]) -> None:
        gone = [k.id for p, k in known.items() if p not in seen and not k.is_locked]
        if not gone:
            return
        with self.ctx.session() as session:
            result = session.execute(
                update(PublicMedia)
                .where(PublicMedia.id.in_(gone), PublicMedia.is_locked.is_(False))
                .values(
                    is_locked=True,
                    locked_at=func.now(),
                    locked_reason=MISSING_REASON,
                    updated_at=func.now(),
                )
                .returning(PublicMedia.path)
            )
            paths = [r.path for r in result]
        self.counts["missing"] = len(paths)
        for path in paths[:MAX_LOGGED_PROBLEMS]:
            self.ctx.log(f"missing, locked: {path}")
