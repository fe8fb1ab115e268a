"""The host daemon's preflight endpoint: a fresh NVML sample of one GPU, on request.

A Celery pool child must never touch NVML (it is forked; NVML and CUDA do not survive a
fork), so just before a GPU job starts it asks the daemon, which holds the host's one NVML
session, over a unix socket (``workers.hostpaths.preflight_socket``). One request per
connection: a JSON line ``{"uuid": ...}`` in, a JSON line out:

- ``{"found": true, "gpu": {...}}`` with total (capacity), free, used and foreign MiB;
- ``{"found": false}`` when NVML lost the GPU or no longer finds it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Sampler = Callable[[str], dict[str, Any] | None]
MAX_REQUEST_BYTES = 4096


class PreflightUnavailable(Exception):
    """The host daemon did not answer (not running, or too slow)."""


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = json.loads(self.rfile.readline(MAX_REQUEST_BYTES) or b"{}")
            uuid = str(request.get("uuid", ""))
            gpu = self.server.sampler(uuid) if uuid else None
            reply: dict[str, Any] = {"found": gpu is not None}
            if gpu is not None:
                reply["gpu"] = gpu
        except (ValueError, AttributeError) as exc:
            reply = {"found": False, "error": f"bad request: {exc}"}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, sampler: Sampler) -> None:
        self.sampler = sampler
        super().__init__(path, _Handler)


class PreflightService:
    """Serves fresh GPU samples to this host's Celery workers, in a thread of the daemon."""

    def __init__(self, path: Path, sampler: Sampler) -> None:
        self.path = path
        self.sampler = sampler
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # A socket file left by a daemon that died is stale: nobody else owns this host name.
        self.path.unlink(missing_ok=True)
        self._server = _Server(str(self.path), self.sampler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mediaq-preflight", daemon=True
        )
        self._thread.start()
        log.info("preflight service on %s", self.path)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def ask_daemon(path: Path, uuid: str, timeout_s: float = 3.0) -> dict[str, Any] | None:
    """A fresh sample of GPU ``uuid`` from the host daemon; None when it no longer has it.

    Raises ``PreflightUnavailable`` when the daemon does not answer within ``timeout_s``.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(json.dumps({"uuid": uuid}).encode() + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline(MAX_REQUEST_BYTES * 4)
    except OSError as exc:
        raise PreflightUnavailable(f"host daemon at {path} did not answer: {exc}") from exc
    try:
        reply = json.loads(line)
    except ValueError as exc:
        raise PreflightUnavailable(f"host daemon at {path} answered garbage") from exc
    if not reply.get("found"):
        return None
    gpu = reply.get("gpu")
    return gpu if isinstance(gpu, dict) else None
