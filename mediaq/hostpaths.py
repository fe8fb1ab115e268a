"""Where a host's local rendezvous files live: the preflight socket, the fake GPU state.

Both sides derive the path from the host name alone (the daemon and its Celery workers
share the settings), so no extra setting has to travel. Names are sanitised and kept
short: a unix socket path has a hard limit of about 107 bytes.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _slug(host_name: str) -> str:
    safe = _UNSAFE.sub("_", host_name)[:40]
    digest = hashlib.sha1(host_name.encode()).hexdigest()[:8]
    return f"{safe}-{digest}"


def runtime_dir() -> Path:
    """The directory of the rendezvous files (the system's temporary directory)."""
    return Path(tempfile.gettempdir())


def preflight_socket(host_name: str) -> Path:
    """The unix socket on which the host daemon answers preflight samples."""
    return runtime_dir() / f"mediaq-{_slug(host_name)}.sock"


def fake_gpu_state(host_name: str) -> Path:
    """The JSON file through which tests act on a running daemon's fake GPUs."""
    return runtime_dir() / f"mediaq-fakegpu-{_slug(host_name)}.json"


def daemon_alive_file(host_name: str, daemon_pid: int) -> Path:
    """The file a host daemon touches on every beat; its Celery workers watch its age."""
    return runtime_dir() / f"mediaq-{_slug(host_name)}-{daemon_pid}.alive"


def daemon_alive_files(host_name: str) -> dict[int, Path]:
    """Every alive file of ``host_name``'s daemons, by daemon pid."""
    prefix = f"mediaq-{_slug(host_name)}-"
    found: dict[int, Path] = {}
    for path in runtime_dir().glob(f"{prefix}*.alive"):
        pid = path.name[len(prefix) : -len(".alive")]
        if pid.isdigit():
            found[int(pid)] = path
    return found
