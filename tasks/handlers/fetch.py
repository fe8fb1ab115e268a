"""``fetch`` ``{url}``: download a video into the inbox and register it like a scanned file.

Only http(s); at most ``MAX_UPLOAD_SIZE_GB``; the content must probe as a video. The file is
downloaded under a hidden temp name and only renamed into the inbox once it checked out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mediaq.errors import UnreadableMedia
from mediaq.jobparams import FetchParams
from tasks.context import JobContext
from tasks.media.fetcher import check_url, download, final_name, name_from_url
from tasks.media.outputs import free_path, move_no_clobber
from tasks.media.params import read_params
from tasks.media.probe import probe_file
from tasks.media.scanner import FileStat, LibraryScanner

GIB = 1024**3


def run_fetch(ctx: JobContext) -> dict[str, Any]:
    url = check_url(read_params(ctx.params, FetchParams).url)
    limit = int(ctx.settings.max_upload_size_gb * GIB)
    library = Path(ctx.settings.library_root).resolve()
    inbox = library / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = inbox / f".fetch-j{ctx.job_id}-a{ctx.attempt}.part"
    tmp.unlink(missing_ok=True)

    def on_chunk(done: int, total: int | None) -> None:
        ctx.check_cancelled()
        if total:
            ctx.progress(80 * done / total)

    try:
        size = download(url, tmp, limit, on_chunk, ctx.settings.fetch_allow_private)
        probe = probe_file(tmp)
        target = free_path(inbox, final_name(name_from_url(url), probe.format_name))
        move_no_clobber(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    ctx.log(f"fetched {size} bytes from {url} into {target}")
    stat = target.stat()
    scanner = LibraryScanner(ctx, inbox, library)
    video_id = scanner.visit(FileStat(str(target), stat.st_size, stat.st_mtime_ns), None)
    if video_id is None:  # probed fine above; a file that changed under us is unreadable now
        os.unlink(target)
        raise UnreadableMedia(f"{target} could not be registered")
    return {
        "url": url,
        "videoId": video_id,
        "path": str(target),
        "sizeBytes": size,
        "durationS": round(probe.duration_s, 3),
        "width": probe.width,
        "height": probe.height,
        "duplicateOf": scanner.tally.duplicate_of.get(str(target)),
    }
