"""``scan`` and ``public_scan`` ``{root?}``: bring the library / gallery rows up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaq.errors import InvalidParams
from tasks.context import JobContext
from tasks.media.params import get_str
from tasks.media.public_scanner import PublicScanner
from tasks.media.scanner import LibraryScanner
from tasks.registry import handler


def _root(ctx: JobContext, default: str) -> Path:
    root = Path(get_str(ctx.params, "root", default=default, max_length=4096)).resolve()
    if not root.is_dir():
        raise InvalidParams(f"root {root} is not a directory")
    return root


@handler("scan")
def run_scan(ctx: JobContext) -> dict[str, Any]:
    """Walk the library (or ``root``), skipping the gallery and thumbnail folders."""
    library = Path(ctx.settings.library_root).resolve()
    root = _root(ctx, str(library))
    exclude = [Path(ctx.settings.public_root), Path(ctx.settings.thumbnail_root)]
    tally = LibraryScanner(ctx, root, library).scan(exclude)
    return {"root": str(root), **tally.as_result()}


@handler("public_scan")
def run_public_scan(ctx: JobContext) -> dict[str, Any]:
    """Walk the public gallery (or ``root``): one category per top-level folder."""
    root = _root(ctx, str(Path(ctx.settings.public_root).resolve()))
    counts = PublicScanner(ctx, root).scan([Path(ctx.settings.thumbnail_root)])
    return {"root": str(root), **counts}
