"""Scanning a library tree into ``videos``: probe, hash, dedup, thumbnail, mark missing.

Each file is decided by ``classify`` from its size and mtime against its row, so a rescan
of an unchanged tree reads no file and writes no row. New and changed files are probed,
hashed in chunks and checked for duplicates: fingerprint (duration, size, width, height)
first, content hash second. A duplicate gets a row (``is_valid = false``) so that the next
scan knows it without hashing it again. Thumbnails are named by content hash: one per
distinct video, shared by its copies.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from mediaq.errors import UnreadableMedia
from mediaq.models import Video
from tasks.context import JobContext
from tasks.media.frames import extract_frame
from tasks.media.hashing import hash_file
from tasks.media.labels import directory_type_for, is_video_name
from tasks.media.names import producer_from_path, title_from_filename
from tasks.media.probe import ProbeResult, probe_file

MAX_LOGGED_PROBLEMS = 50
THUMBNAIL_WIDTH = 320


@dataclass(frozen=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class KnownFile:
    id: int
    size: int | None
    mtime_ns: int | None
    is_valid: bool
    file_hash: str | None


@dataclass
class ScanTally:
    """What a scan did; becomes the job's result."""

    files: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    revalidated: int = 0
    duplicates: int = 0
    missing: int = 0
    unreadable: int = 0
    skipped: int = 0
    hashed_files: int = 0
    hashed_bytes: int = 0
    thumbnails: int = 0
    duplicate_of: dict[str, int] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "revalidated": self.revalidated,
            "duplicates": self.duplicates,
            "missing": self.missing,
            "unreadable": self.unreadable,
            "skipped": self.skipped,
            "hashedFiles": self.hashed_files,
            "hashedBytes": self.hashed_bytes,
            "thumbnails": self.thumbnails,
            "duplicateOf": dict(self.duplicate_of),
        }


def classify(stat: FileStat, known: KnownFile | None) -> str:
    """``new``, ``changed`` (size or mtime differ), ``returned`` (row invalid) or ``unchanged``."""
    if known is None:
        return "new"
    if known.size != stat.size or known.mtime_ns != stat.mtime_ns:
        return "changed"
    if not known.is_valid:
        return "returned"
    return "unchanged"


def walk_tree(root: Path, exclude: Iterable[Path] = ()) -> tuple[list[FileStat], list[str]]:
    """Video files under ``root`` in path order, and the other (skipped) files.

    Hidden files and folders (our own partial outputs among them) and ``exclude``d folders
    are not visited.
    """
    excluded = {p.resolve() for p in exclude}
    videos: list[FileStat] = []
    skipped: list[str] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(files):
            path = here / name
            if not is_video_name(name):
                if not name.startswith("."):
                    skipped.append(str(path))
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            videos.append(FileStat(str(path), st.st_size, st.st_mtime_ns))
    videos.sort(key=lambda f: f.path)
    return videos, skipped


def under(root: Path) -> str:
    """The LIKE pattern of every path below ``root``."""
    escaped = str(root).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return escaped.rstrip("/") + "/%"


class LibraryScanner:
    """One scan of one root for one job."""

    def __init__(self, ctx: JobContext, root: Path, library_root: Path) -> None:
        self.ctx = ctx
        self.root = root
        self.library_root = library_root
        self.thumbnails = Path(ctx.settings.thumbnail_root).resolve() / "videos"
        self.tally = ScanTally()
        self._problems = 0

    # ---- the whole scan ---------------------------------------------------------------
    def scan(self, exclude: Sequence[Path]) -> ScanTally:
        files, skipped = walk_tree(self.root, exclude)
        self.tally.files, self.tally.skipped = len(files), len(skipped)
        self.ctx.log(f"scan {self.root}: {len(files)} video files, {len(skipped)} other files")
        for path in skipped[:MAX_LOGGED_PROBLEMS]:
            self.ctx.log(f"skipped (not a video): {path}")
        known = self._load_known()
        for index, stat in enumerate(files):
            self.ctx.check_cancelled()
            self.visit(stat, known.get(stat.path))
            self.ctx.progress(100.0 * (index + 1) / max(1, len(files)))
        self._mark_missing(known, {f.path for f in files})
        return self.tally

    def _load_known(self) -> dict[str, KnownFile]:
        with self.ctx.session() as session:
            rows = session.execute(
                select(
                    Video.id,
                    Video.path,
                    Video.file_size,
                    Video.file_mtime_ns,
                    Video.is_valid,
                    Video.file_hash,
                ).where(Video.path.like(under(self.root)))
            )
            return {
                r.path: KnownFile(r.id, r.file_size, r.file_mtime_ns, bool(r.is_valid), r.file_hash)
                for r in rows
            }

    def _mark_missing(self, known: dict[str, KnownFile], seen: set[str]) -> None:
        gone = [k.id for path, k in known.items() if path not in seen and k.is_valid]
        if not gone:
            return
        with self.ctx.session() as session:
            result = session.execute(
                update(Video)
                .where(Video.id.in_(gone), Video.is_valid.is_not(False))
                .values(is_valid=False, last_validated=func.now(), updated_at=func.now())
                .returning(Video.path)
            )
            missing = [r.path for r in result]
        self.tally.missing = len(missing)
        for path in missing[:MAX_LOGGED_PROBLEMS]:
            self.ctx.log(f"missing, marked invalid: {path}")

    # ---- one file -----------------------------------------------------------------------
    def visit(self, stat: FileStat, known: KnownFile | None) -> int | None:
        """Bring one file's row up to date; return its id (None when unreadable)."""
        kind = classify(stat, known)
        if kind == "unchanged":
            self.tally.unchanged += 1
            return known.id if known else None
        if kind == "returned" and known is not None:
            self._recheck(known)
            return known.id
        try:
            probe = probe_file(stat.path)
            digest = self._hash(stat)
        except (UnreadableMedia, OSError) as exc:  # OSError: gone or unreadable since the walk
            self._unreadable(stat, known, exc)
            return None
        thumb = self._thumbnail(stat, probe, digest)
        with self.ctx.session() as session:
            original = self._find_original(session, probe, stat, digest, known)
            values = self._row_values(stat, probe, digest, original)
            video_id = self._write(session, values | {"thumbnail_path": thumb}, known)
        if original is not None:
            self.tally.duplicates += 1
            self.tally.duplicate_of[stat.path] = original.id
            self.ctx.log(f"duplicate of video {original.id} ({original.path}): {stat.path}")
        return video_id

    def _hash(self, stat: FileStat) -> str:
        def on_chunk(_: int) -> None:
            self.ctx.check_cancelled()

        digest = hash_file(stat.path, on_chunk)
        self.tally.hashed_files += 1
        self.tally.hashed_bytes += stat.size
        return digest

    def _find_original(
        self,
        session: Session,
        probe: ProbeResult,
        stat: FileStat,
        digest: str,
        known: KnownFile | None,
    ) -> Video | None:
        """The valid video this file duplicates: same fingerprint, then same content hash."""
        candidates = session.scalars(
            select(Video)
            .where(
                Video.duration_seconds == probe.duration_seconds,
                Video.file_size == stat.size,
                Video.width == probe.width,
                Video.height == probe.height,
                Video.is_valid.is_not(False),
                Video.path != stat.path,
            )
            .order_by(Video.id)
        ).all()
        for candidate in candidates:
            if candidate.file_hash is None and Path(candidate.path).is_file():
                # An older row without a hash: hash it once now, on demand.
                candidate.file_hash = hash_file(candidate.path)
                self.tally.hashed_files += 1
            if candidate.file_hash == digest:
                return candidate
        return None

    def _row_values(
        self, stat: FileStat, probe: ProbeResult, digest: str, original: Video | None
    ) -> dict[str, Any]:
        path = Path(stat.path)
        relative = _relative(path, self.library_root, self.root)
        return {
            "path": stat.path,
            "filename": path.name,
            "title": title_from_filename(path.name),
            "producer": producer_from_path(relative),
            "duration_seconds": probe.duration_seconds,
            "quality": probe.quality,
            "orientation": probe.orientation,
            "has_audio": probe.has_audio,
            "file_size": stat.size,
            "file_hash": digest,
            "file_mtime_ns": stat.mtime_ns,
            "width": probe.width,
            "height": probe.height,
            "directory_type": directory_type_for(relative),
            "is_valid": original is None,
            "last_validated": func.now(),
            "updated_at": func.now(),
        }

    def _write(self, session: Session, values: dict[str, Any], known: KnownFile | None) -> int:
        if known is None:
            self.tally.inserted += 1
            return int(
                session.execute(insert(Video).values(**values).returning(Video.id)).scalar_one()
            )
        self.tally.updated += 1
        session.execute(update(Video).where(Video.id == known.id).values(**values))
        return known.id

    def _thumbnail(self, stat: FileStat, probe: ProbeResult, digest: str) -> str | None:
        """The content's thumbnail, made unless that content already has one."""
        target = thumbnail_file(self.thumbnails, None, digest)
        if target.is_file():
            return str(target)
        try:
            extract_frame(stat.path, thumbnail_time(probe.duration_s), target, THUMBNAIL_WIDTH)
        except (UnreadableMedia, OSError) as exc:
            self.ctx.log(f"no thumbnail for {stat.path}: {exc}")
            return None
        self.tally.thumbnails += 1
        return str(target)

    def _recheck(self, known: KnownFile) -> None:
        """An unchanged file whose row is invalid: still a duplicate, or back for good?"""
        with self.ctx.session() as session:
            if known.file_hash is not None:
                twin = session.scalar(
                    select(Video.id).where(
                        Video.file_hash == known.file_hash,
                        Video.is_valid.is_not(False),
                        Video.id != known.id,
                    )
                )
                if twin is not None:
                    self.tally.unchanged += 1
                    return
            session.execute(
                update(Video)
                .where(Video.id == known.id)
                .values(is_valid=True, last_validated=func.now(), updated_at=func.now())
            )
        self.tally.revalidated += 1

    def _unreadable(self, stat: FileStat, known: KnownFile | None, exc: Exception) -> None:
        self.tally.unreadable += 1
        if self._problems < MAX_LOGGED_PROBLEMS:
            self.ctx.log(f"unreadable, skipped: {exc}")
        self._problems += 1
        if known is not None and known.is_valid:
            with self.ctx.session() as session:
                session.execute(
                    update(Video)
                    .where(Video.id == known.id)
                    .values(is_valid=False, last_validated=func.now(), updated_at=func.now())
                )


def thumbnail_file(folder: Path, video_id: int | None, file_hash: str | None) -> Path:
    """A video's thumbnail: named by content hash (copies share one), else by row id."""
    if file_hash:
        return folder / f"{file_hash[:32]}.jpg"
    return folder / f"id-{video_id}.jpg"


def thumbnail_time(duration_s: float) -> float:
    """Where a thumbnail is taken: a tenth of the way in, at most 10 s (past any fade-in)."""
    return max(0.0, min(duration_s * 0.1, 10.0))


def _relative(path: Path, library_root: Path, scan_root: Path) -> PurePath:
    for root in (library_root, scan_root):
        try:
            return path.relative_to(root)
        except ValueError:
            continue
    return PurePath(path.name)
