"""The host daemon's preflight endpoint: a fresh NVML sample of one GPU, on request.

It answers the wire protocol of ``mediaq.preflightwire`` on this host's socket
(``mediaq.hostpaths.preflight_socket``) from the daemon's one NVML session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mediaq.preflightwire import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)

Sampler = Callable[[str], dict[str, Any] | None]


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
    # Every GPU job of the host asks just before it starts; socketserver's default backlog
    # of 5 refuses the sixth simultaneous connect at once (EAGAIN on a unix socket), which
    # the worker would read as "the daemon did not answer" and refuse its job.
    request_queue_size = 128

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
