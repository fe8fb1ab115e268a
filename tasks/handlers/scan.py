"""``scan`` and ``public_scan`` ``{root?}``: bring the library / gallery rows up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaq.errors import InvalidParams
from mediaq.jobparams import ScanParams
from tasks.context import JobContext
from tasks.media.params import read_params
from tasks.media.public_scanner import PublicScanner
from tasks.media.scanner import LibraryScanner


def _root(ctx: JobContext, default: str) -> Path:
    root = Path(read_params(ctx.params, ScanParams).root or default).resolve()
    if not root.is_dir():
        raise InvalidParams(f"root {root} is not a directory")
    return root


def run_scan(ctx: JobContext) -> dict[str, Any]:
    """Walk the library (or ``root``), skipping the gallery and thumbnail folders."""
    library = Path(ctx.settings.library_root).resolve()
    root = _root(ctx, str(library))
    exclude = [Path(ctx.settings.public_root), Path(ctx.settings.thumbnail_root)]
    tally = LibraryScanner(ctx, root, library).scan(exclude)
    return {"root": str(root), **tally.as_result()}


def run_public_scan(ctx: JobContext) -> dict[str, Any]:
    """Walk the public gallery (or ``root``): one category per top-level folder."""
    root = _root(ctx, str(Path(ctx.settings.public_root).resolve()))
    counts = PublicScanner(ctx, root).scan([Path(ctx.settings.thumbnail_root)])
    return {"root": str(root), **counts}
