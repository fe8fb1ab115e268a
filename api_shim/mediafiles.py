"""Serving library files: only from the public roots, with HTTP Range, never a path leak.

A file is served when three checks hold, each of which alone refuses with 404:

1. the path (from the database, or a file name from the URL joined to a folder the database
   names) has no NUL byte, and after resolving every symlink it lies inside one of the public
   roots: the gallery root (``MEDIAQ_PUBLIC_ROOT``) or the thumbnail root
   (``MEDIAQ_THUMBNAIL_ROOT``);
2. it opens as a regular file without following a final symlink (``O_NOFOLLOW``);
3. the kernel's own name of the opened descriptor (``/proc/self/fd/N``) is still inside that
   root, so a symlink swapped in between the check and the open cannot lead outside.

The bytes are sent by ``RangeFileResponse`` (``byteranges.plan`` decides 200/206/304/416) in
4 MiB ``pread`` chunks from a worker thread, so a large file never sits in memory and the
event loop never blocks on the disk. With ``MEDIAQ_ACCEL_REDIRECT`` set (a front nginx), the
answer is an empty response with ``X-Accel-Redirect`` naming the file under that internal
prefix, and nginx sends the bytes (Range and conditionals included).

Public JSON never carries these paths: ``public_path`` gives the seed's library-relative form
(``/public/highlights/x.mp4``, ``/thumbnails/x.jpg``), and clients fetch ``streamUrl`` and
``thumbnailUrl``, which name the media by id.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api_shim.byteranges import FileMeta, Plan, content_range, plan
from api_shim.errors import ApiError
from mediaq.settings import Settings

CHUNK = 4 * 1024 * 1024
FILE_NOT_FOUND = "File not found"

mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("video/mp4", ".m4v")
mimetypes.add_type("video/x-matroska", ".mkv")


@dataclass(frozen=True)
class Root:
    name: str  # the first segment of the library-relative form ("public", "thumbnails")
    real: str  # the resolved folder, without a trailing slash


@dataclass(frozen=True)
class OpenFile:
    fd: int
    meta: FileMeta
    root: Root
    relative: str  # inside the root, "/"-separated
    content_type: str


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


class LibraryFiles:
    """The public roots of one app and the only way the API opens a library file."""

    def __init__(self, settings: Settings) -> None:
        self.roots = (
            Root("public", os.path.realpath(settings.public_root)),
            Root("thumbnails", os.path.realpath(settings.thumbnail_root)),
        )
        self.accel_prefix = settings.accel_redirect.rstrip("/")
        self._sql_params = {f"{root.name}_dir": root.real + os.sep for root in self.roots}

    def sql_params(self) -> dict[str, str]:
        """The root prefixes the JSON statements strip to make library-relative paths."""
        return self._sql_params

    def public_path(self, path: str | None) -> str | None:
        """``/public/...`` or ``/thumbnails/...`` for a path inside a root, else None."""
        if path is None:
            return None
        for root in self.roots:
            if path.startswith(root.real + os.sep):
                return f"/{root.name}/" + path[len(root.real) + 1 :]
        return None

    def root_of(self, path: str) -> Root | None:
        """The root holding ``path`` after resolving symlinks, or None (refuse)."""
        if not path or "\x00" in path or not os.path.isabs(path):
            return None
        real = os.path.realpath(path)
        for root in self.roots:
            if _inside(real, root.real) and real != root.real:
                return root
        return None

    def open(self, path: str) -> OpenFile:
        """Open a file inside the public roots for reading, or raise 404."""
        root = self.root_of(path)
        if root is None:
            raise ApiError.not_found(FILE_NOT_FOUND)
        real = os.path.realpath(path)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            raise ApiError.not_found(FILE_NOT_FOUND) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ApiError.not_found(FILE_NOT_FOUND)
            opened = _fd_path(fd)
            if opened is not None and not _inside(opened, root.real):
                raise ApiError.not_found(FILE_NOT_FOUND)
            relative = (opened or real)[len(root.real) + 1 :]
            content_type = mimetypes.guess_type(real)[0] or "application/octet-stream"
            return OpenFile(fd, FileMeta(st.st_size, st.st_mtime_ns), root, relative, content_type)
        except BaseException:
            os.close(fd)
            raise

    def response(self, scope_headers: Any, method: str, path: str) -> Response:
        """The answer to a GET/HEAD of ``path``: 200/206/304/416, or X-Accel-Redirect."""
        opened = self.open(path)
        if self.accel_prefix:
            os.close(opened.fd)
            target = f"{self.accel_prefix}/{opened.root.name}/{quote(opened.relative)}"
            return Response(
                b"",
                headers={"X-Accel-Redirect": target, "Cache-Control": "no-cache"},
                media_type=opened.content_type,
            )
        decision = plan(
            method,
            opened.meta,
            range_header=scope_headers.get("range"),
            if_range=scope_headers.get("if-range"),
            if_none_match=scope_headers.get("if-none-match"),
            if_modified_since=scope_headers.get("if-modified-since"),
        )
        return RangeFileResponse(opened, decision, send_body=method.upper() != "HEAD")


def _fd_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no procfs: the O_NOFOLLOW open and the realpath check stand
        return None


class RangeFileResponse(Response):
    """Sends (part of) an open file as ``plan`` decided; owns and closes the descriptor."""

    def __init__(self, opened: OpenFile, decision: Plan, send_body: bool = True) -> None:
        self.opened = opened
        self.decision = decision
        self.send_body = send_body
        self.status_code = decision.status
        self.background = None
        meta = opened.meta
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": meta.etag,
            "Last-Modified": meta.last_modified,
            "Cache-Control": "no-cache",
        }
        if decision.status == 416:
            body = b'{"error":"Range not satisfiable: the file has %d bytes"}' % meta.size
            headers["Content-Range"] = content_range(decision, meta.size)
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(body))
            self.body = body
        elif decision.status == 304:
            self.body = b""
        else:
            self.body = b""
            headers["Content-Type"] = opened.content_type
            headers["Content-Length"] = str(decision.length)
            if decision.status == 206:
                headers["Content-Range"] = content_range(decision, meta.size)
        self.raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            start = {"status": self.status_code, "headers": self.raw_headers}
            await send({"type": "http.response.start", **start})
            if self.decision.status not in (200, 206) or not self.send_body:
                await send({"type": "http.response.body", "body": self.body})
                return
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._stream(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()  # the client left: stop reading the file
        finally:
            os.close(self.opened.fd)

    async def _stream(self, send: Send) -> None:
        fd, position, end = self.opened.fd, self.decision.start, self.decision.end
        if position >= end:
            await send({"type": "http.response.body", "body": b""})
            return
        while position < end:
            size = min(CHUNK, end - position)
            chunk = await anyio.to_thread.run_sync(os.pread, fd, size, position)
            if not chunk:  # the file shrank under us: end the body short, never pad it
                raise OSError(f"file ended at byte {position} of {end}")
            position += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": position < end})
