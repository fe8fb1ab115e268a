"""The preflight wire protocol between a host daemon and its Celery pool children.

A pool child must never touch NVML (it is forked; NVML and CUDA do not survive a fork), so
just before a GPU job starts it asks the daemon (``workers.preflight_service``), which holds
the host's one NVML session, over a unix socket (``mediaq.hostpaths.preflight_socket``). One
request per connection: a JSON line ``{"uuid": ...}`` in, a JSON line out:

- ``{"found": true, "gpu": {...}}`` with total (capacity), free, used and foreign MiB;
- ``{"found": false}`` when NVML lost the GPU or no longer finds it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

MAX_REQUEST_BYTES = 4096


class PreflightUnavailable(Exception):
    """The host daemon did not answer (not running, or too slow)."""


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
