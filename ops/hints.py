"""How to type ``mediaq`` on this machine, for every hint the commands print.

``scripts/up`` installs the command into ``.venv/bin``; unless that folder is on PATH
(``source .venv/bin/activate``), a bare ``mediaq`` is "command not found". Every hint of
``mediaq up`` and ``mediaq demo`` therefore prints the command exactly as it will work here.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def command_for(script: Path, on_path: str | None, cwd: Path) -> str:
    """``mediaq`` when PATH finds this very script, else its path (relative under ``cwd``)."""
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "mediaq"
    try:
        relative = script.relative_to(cwd)
    except ValueError:
        return str(script)
    return str(relative)


def mediaq_command() -> str:
    """How to run the ``mediaq`` of this Python environment from the current directory."""
    script = Path(sys.executable).parent / "mediaq"
    if not script.exists():  # not installed as a script: run the module
        return f"{sys.executable} -m ops.cli"
    return command_for(script, shutil.which("mediaq"), Path(os.getcwd()))
