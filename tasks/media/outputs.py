"""Where outputs go and how they appear: temp names renamed into place, never clobbering."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.media.names import first_free_name, slugify


def output_path(
    root: str | Path, kind: str, stem: str, video_id: int | None, job_id: int, ext: str
) -> Path:
    """``<output_root>/<kind>/<slug>-v<video>-j<job><ext>``: unique per job, traceable."""
    name = slugify(stem, 60) or "output"
    if video_id is not None:
        name += f"-v{video_id}"
    return Path(root) / kind / f"{name}-j{job_id}{ext}"


def partial_path(final: Path) -> Path:
    """The temp name an output is written under (hidden, so a scan never picks it up)."""
    return final.with_name(f".{final.stem}.part{final.suffix}")


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temp path; on success rename it to ``final``, on any error remove it.

    A cancelled or failed job therefore never leaves a partial output behind.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp} was not written")
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Like ``atomic_file`` for a directory of outputs (HLS segments, keyframes)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def move_no_clobber(src: Path, dst: Path) -> None:
    """Move a file; FileExistsError when ``dst`` exists (an existing file is never replaced).

    A hard link claims the name atomically; across file systems the copy is opened with
    ``x`` (exclusive create) for the same guarantee.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        shutil.copystat(src, dst)
    os.unlink(src)


def copy_no_clobber(src: Path, dst: Path) -> None:
    """Copy a file (a hard link where possible); FileExistsError when ``dst`` exists."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def free_path(folder: Path, name: str) -> Path:
    """``folder/name`` or the first free ``name-2``, ``name-3``... in that folder."""
    return folder / first_free_name(name, lambda n: (folder / n).exists())
