"""``mediaq up`` as a subprocess for tests: start it, wait for it, inspect its process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from mediaq.proctree import descendants_of, is_zombie, start_time
from mediaq.settings import Settings, settings_to_env

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def alive(pids: list[tuple[int, int]]) -> list[int]:
    """Which of the recorded (pid, start time) processes still exist (zombies excepted)."""
    return [pid for pid, started in pids if start_time(pid) == started and not is_zombie(pid)]


class UpProcess:
    """``mediaq up`` in a session of its own, with its output in a log file."""

    def __init__(
        self, settings: Settings, log_path: Path, *extra: str, unset: tuple[str, ...] = ()
    ) -> None:
        self.settings = settings
        self.api_port = free_port()
        self.flower_port = free_port()
        self.log_path = log_path
        env = dict(os.environ) | settings_to_env(settings) | {"PYTHONUNBUFFERED": "1"}
        env.pop("ENABLE_MEDIA_FEATURES", None)
        for name in unset:  # as if the operator never set it
            env.pop(name, None)
        self.env = env
        self.log_file = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops.cli",
                "up",
                "--port",
                str(self.api_port),
                "--flower-port",
                str(self.flower_port),
                *extra,
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.recorded: list[tuple[int, int]] = []

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def flower(self) -> str:
        return f"http://127.0.0.1:{self.flower_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the banner is printed (the API answers); fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        while "mediaq is up" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mediaq up did not come up:\n{self.log()[-5000:]}")
            time.sleep(0.2)

    def tree(self) -> list[tuple[int, int]]:
        """Every process below ``mediaq up`` now, with start times (recorded for later)."""
        found = []
        for pid in descendants_of(self.proc.pid):
            started = start_time(pid)
            if started is not None:
                found.append((pid, started))
        self.recorded += found
        return found

    def terminate(self, timeout: float = 60.0) -> int:
        self.tree()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self) -> UpProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in alive(self.recorded):  # never leave anything behind, even on failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log_file.close()
