"""The newcomer's path, as the README prints it: `scripts/up` in a fresh clone, then the hints
it prints (`mediaq jobs`, the dashboard URL) exactly as printed, from the clone's directory.

The clone's Python environment is prepared beforehand (the test suite's own packages, and the
clone's code on the path, with the install stamp `scripts/bootstrap` writes), so the test needs
no package index; everything after that is the README's command as a user runs it.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from mediaq.settings import Settings, settings_to_env
from tests.integration.browserharness import browser  # noqa: F401  (the fixture)
from tests.integration.uphelp import free_port

ROOT = Path(__file__).resolve().parents[2]


def prepare_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "mediaq"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = clone / ".venv" / "lib" / version / "site-packages"
    # The clone's code first, then the packages of this environment.
    (site / "aaa-mediaq-clone.pth").write_text(f"{clone}\n{ours}\n")
    script = clone / ".venv" / "bin" / "mediaq"
    script.write_text(
        f"#!{clone / '.venv' / 'bin' / 'python'}\nimport sys\nfrom ops.cli import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o755)
    digest = hashlib.sha256((clone / "pyproject.toml").read_bytes()).hexdigest()
    (clone / ".venv" / ".mediaq-installed").write_text(f"{digest} {clone}\n")
    return clone


def test_scripts_up_in_a_fresh_clone_then_its_hints_as_printed(
    settings: Settings,
    tmp_path: Path,
    browser: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    clone = prepare_clone(tmp_path)
    port, flower = free_port(), free_port()
    user_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEDIAQ_", "PYTHON", "VIRTUAL_ENV")) and k != "JWT_SECRET"
    }
    env = user_env | {
        k: v
        for k, v in settings_to_env(settings).items()
        if k
        in (
            "DATABASE_URL",
            "REDIS_URL",
            "MEDIAQ_QUEUE_PREFIX",
            "MEDIAQ_HOST",
            "MEDIAQ_LIBRARY_ROOT",
            "MEDIAQ_PUBLIC_ROOT",
            "MEDIAQ_OUTPUT_ROOT",
            "MEDIAQ_THUMBNAIL_ROOT",
        )
    }
    env |= {"MEDIA_API_PORT": str(port), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    log_path = tmp_path / "up.out"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            ["scripts/up", "--flower-port", str(flower)],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 420
            while "mediaq is running; Ctrl-C stops everything." not in log_path.read_text():
                assert up.poll() is None, log_path.read_text()[-4000:]
                assert time.monotonic() < deadline, log_path.read_text()[-4000:]
                time.sleep(0.5)
            out = log_path.read_text()
            assert "The demo starts now" in out and "Try `" not in out  # one story
            # The hints, exactly as printed.
            jobs_hint = re.search(r"^Jobs:\s+(\S+ jobs)\s", out, re.M)
            assert jobs_hint, out[-3000:]
            assert jobs_hint.group(1) == ".venv/bin/mediaq jobs"
            assert re.search(r"^  \.venv/bin/mediaq jobs ", out, re.M)  # scripts/up's own
            listed = subprocess.run(
                ["bash", "-c", jobs_hint.group(1)],
                cwd=clone,
                env=user_env | {k: env[k] for k in env if k.startswith(("DATABASE", "REDIS"))},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert listed.returncode == 0, listed.stderr
            for job_type in ("scan", "reencode_streaming", "generate_gif", "compile_quad"):
                assert job_type in listed.stdout
            assert "completed" in listed.stdout

            dashboard = re.search(r"^Dashboard: (\S+)", out, re.M)
            assert dashboard and "#token=" in dashboard.group(1)
            page = browser.new_page()
            page.goto(dashboard.group(1))
            expect(page.locator("#app")).to_be_visible(timeout=20_000)
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGINT)
                try:
                    up.wait(90)
                except subprocess.TimeoutExpired:
                    os.killpg(up.pid, signal.SIGKILL)
                    up.wait()
