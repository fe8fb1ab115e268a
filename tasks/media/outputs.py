"""Where outputs go and how they appear: attempt-private temp names moved into place under
the attempt's fence, never clobbering."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from tasks.media.names import first_free_name, slugify


def output_path(
    root: str | Path, kind: str, stem: str, video_id: int | None, job_id: int, ext: str
) -> Path:
    """``<output_root>/<kind>/<slug>-v<video>-j<job><ext>``: unique per job, traceable."""
    name = slugify(stem, 60) or "output"
    if video_id is not None:
        name += f"-v{video_id}"
    return Path(root) / kind / f"{name}-j{job_id}{ext}"


class AttemptFence(Protocol):
    """The running attempt that writes an output (``JobContext`` is one)."""

    @property
    def attempt(self) -> int: ...

    def fenced(self) -> AbstractContextManager[None]: ...


def partial_path(final: Path, attempt: int) -> Path:
    """The temp name an attempt writes an output under: hidden (a scan never picks it up)
    and private to the attempt (a zombie of an earlier attempt never touches it)."""
    return final.with_name(f".{final.stem}.a{attempt}.part{final.suffix}")


@contextmanager
def atomic_file(final: Path, owner: AttemptFence) -> Iterator[Path]:
    """Yield the attempt's temp path; on success move it to ``final``, on error remove it.

    The move happens under ``owner.fenced()``: only while the attempt still owns its job,
    so a zombie attempt can never replace the file of the attempt that superseded it. A
    cancelled or failed job never leaves a partial output behind.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final, owner.attempt)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp} was not written")
        with owner.fenced():
            os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: Path, owner: AttemptFence) -> Iterator[Path]:
    """Like ``atomic_file`` for a directory of outputs (HLS segments, keyframes).

    A directory left by an earlier attempt that died between its move and its outcome is
    replaced (under the fence, like the move itself).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.a{owner.attempt}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        with owner.fenced():
            old = final.with_name(f".{final.name}.a{owner.attempt}.old")
            if final.exists():
                os.rename(final, old)
            os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
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
