"""``publish`` ``{videoId, category?, path?}`` and ``unpublish`` ``{mediaId | videoId}``.

``publish`` puts a file into the gallery: ``path`` when given, else the output of the
``reencode_streaming`` step this job depends on (in a pipeline), else the video's own file.
Publishing the same video into the same category again returns the existing item.
An item carries its own picture (a frame of the published file, so a compilation or a GIF
is not shown with its first source's thumbnail) and, when ``path`` names a product, that
file's own name; a ``storyboard`` job for its seek previews is enqueued with the row.
``unpublish`` moves items out of the gallery and keeps their engagement history in the
video's ``public_*`` columns; an item with no library video is moved into the inbox and
registered first, so its history has a row to live in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import update

from mediaq.enqueue import JobSpec, enqueue
from mediaq.errors import InvalidParams, UnreadableMedia
from mediaq.jobparams import PublishParams, UnpublishParams
from mediaq.models import PublicMedia
from tasks.context import JobContext
from tasks.media.catalog import get_video, video_file
from tasks.media.frames import extract_frame
from tasks.media.names import slugify
from tasks.media.outputs import free_path, move_no_clobber
from tasks.media.params import read_params
from tasks.media.probe import probe_file
from tasks.media.publishing import (
    dependency_output,
    find_published,
    insert_public_media,
    keep_history_and_remove,
    media_to_unpublish,
    place_in_gallery,
)
from tasks.media.scanner import THUMBNAIL_WIDTH, FileStat, LibraryScanner, thumbnail_time


def _allowed(path: Path, ctx: JobContext) -> bool:
    roots = [Path(ctx.settings.library_root).resolve(), Path(ctx.settings.output_root).resolve()]
    return any(path.is_relative_to(root) for root in roots)


def run_publish(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, PublishParams)
    vid = p.video_id
    public_root = Path(ctx.settings.public_root).resolve()
    with ctx.session() as session:
        video = get_video(session, vid)
        wanted = p.category or video.directory_type or "videos"
        category = slugify(wanted, 60) or "videos"
        existing = find_published(session, vid, category)
        if existing is not None:
            return {
                "videoId": vid,
                "mediaId": existing.id,
                "path": existing.path,
                "category": category,
                "alreadyPublished": True,
            }
        given = p.path
        chosen = given or dependency_output(session, ctx.job_id, "reencode_streaming")
        source = Path(chosen).resolve() if chosen else video_file(video)
    if not source.is_file() or not _allowed(source, ctx):
        raise InvalidParams(f"{source} is not a file in the library or output folders")
    probe = probe_file(source)
    # a product named by ``path`` (a compilation, a GIF) keeps its own name
    name = source.name if p.path else Path(video.filename).stem + source.suffix
    target = place_in_gallery(public_root, category, source, name)
    try:
        with ctx.session() as session:
            media_id = insert_public_media(session, video, target, category, probe)
            thumb = _own_thumbnail(ctx, target, media_id, probe.duration_s)
            if thumb is not None:
                session.execute(
                    update(PublicMedia)
                    .where(PublicMedia.id == media_id)
                    .values(thumbnail_path=str(thumb))
                )
            storyboard = enqueue(session, JobSpec("storyboard", {"mediaId": media_id}))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    ctx.log(f"published video {vid} as media {media_id} in {category}: {target}")
    return {
        "videoId": vid,
        "mediaId": media_id,
        "path": str(target),
        "category": category,
        "source": str(source),
        "thumbnailPath": str(thumb) if thumb is not None else None,
        "storyboardJobId": storyboard,
        "alreadyPublished": False,
    }


def _own_thumbnail(ctx: JobContext, target: Path, media_id: int, duration_s: float) -> Path | None:
    """A frame of the published file itself; None (keep the video's) if none can be read."""
    thumb = Path(ctx.settings.thumbnail_root).resolve() / "media" / f"{media_id}.jpg"
    try:
        return extract_frame(target, thumbnail_time(duration_s), thumb, THUMBNAIL_WIDTH)
    except (UnreadableMedia, OSError) as exc:
        ctx.log(f"no thumbnail of its own for media {media_id}: {exc}")
        return None


def _adopt(ctx: JobContext, media: PublicMedia) -> int:
    """Move an unlinked gallery file into the inbox and register it; return its video id."""
    library = Path(ctx.settings.library_root).resolve()
    inbox = library / "inbox"
    target = free_path(inbox, Path(media.path).name)
    move_no_clobber(Path(media.path), target)
    stat = target.stat()
    scanner = LibraryScanner(ctx, inbox, library)
    vid = scanner.visit(FileStat(str(target), stat.st_size, stat.st_mtime_ns), None)
    if vid is None:
        raise InvalidParams(f"media {media.id}: {target} is not a readable video")
    return vid


def run_unpublish(ctx: JobContext) -> dict[str, Any]:
    public_root = Path(ctx.settings.public_root).resolve()
    done: list[dict[str, Any]] = []
    with ctx.session() as session:
        items = media_to_unpublish(session, read_params(ctx.params, UnpublishParams))
    if not items:
        raise InvalidParams("nothing in the gallery matches")
    for media in items:
        ctx.check_cancelled()
        vid = media.video_id if media.video_id is not None else _adopt(ctx, media)
        with ctx.session() as session:
            fresh = media_to_unpublish(session, UnpublishParams(media_id=media.id))
            if not fresh:
                continue
            keep_history_and_remove(session, fresh[0], vid)
        gallery_file = Path(media.path)
        if gallery_file.is_file() and gallery_file.resolve().is_relative_to(public_root):
            gallery_file.unlink()
        done.append({"mediaId": media.id, "videoId": vid, "views": fresh[0].view_count})
        ctx.log(f"media {media.id} left the gallery; history kept on video {vid}")
    return {"unpublished": done}
