"""Pure name standardization: slugs, titles, producers and standardized file names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePath

MAX_SLUG = 80
UNKNOWN_PRODUCER = "unknown"
_SEPARATORS = re.compile(r"[\s._]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# "Studio - Title", "Studio -- Title", "[Studio] Title"
_PRODUCER_DASH = re.compile(r"^\s*(?P<producer>[^-\[\]]{2,60}?)\s+-{1,2}\s+(?P<title>.+)$")
_PRODUCER_BRACKET = re.compile(r"^\s*\[(?P<producer>[^\]]{2,60})\]\s*(?P<title>.+)$")
_QUALITY_SUFFIX = re.compile(r"[\s._-]*[\[(]?(2160|1440|1080|720|480|360|240|144)p[\])]?$", re.I)


def slugify(text: str, limit: int = MAX_SLUG) -> str:
    """Lower-case ASCII words joined by hyphens (``"Été à Paris!"`` -> ``ete-a-paris``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rstrip("-")
    return slug


def split_producer(stem: str) -> tuple[str | None, str]:
    """``"Acme - Summer Trip"`` -> ``("Acme", "Summer Trip")``; no producer -> (None, stem)."""
    for pattern in (_PRODUCER_BRACKET, _PRODUCER_DASH):
        match = pattern.match(stem)
        if match:
            return match.group("producer").strip(), match.group("title").strip()
    return None, stem


def title_from_filename(filename: str) -> str:
    """A readable title: no extension, no producer prefix, no quality suffix, single spaces."""
    stem = PurePath(filename).stem
    _, title = split_producer(stem)
    title = _QUALITY_SUFFIX.sub("", title)
    title = _SEPARATORS.sub(" ", title).strip(" -")
    return title or stem


def producer_from_path(relative: PurePath) -> str | None:
    """The studio a file belongs to: ``studios/<Studio>/...`` or a ``Studio - Title`` name."""
    parts = relative.parts
    lowered = [p.lower() for p in parts]
    if "studios" in lowered[:-1]:
        index = lowered.index("studios")
        if index + 1 < len(parts) - 1:
            return parts[index + 1]
    producer, _ = split_producer(PurePath(parts[-1]).stem) if parts else (None, "")
    return producer


def standard_filename(producer: str | None, title: str, quality: str | None, ext: str) -> str:
    """``acme-summer-trip-1080p.mp4``: producer, title and quality as one slug."""
    words = [slugify(producer or UNKNOWN_PRODUCER, 40), slugify(title) or "untitled"]
    if quality:
        words.append(slugify(quality))
    ext = ext.lower() if ext.startswith(".") else f".{ext.lower()}"
    return "-".join(w for w in words if w) + ext


def studio_folder(producer: str | None) -> str:
    """The folder of a studio under ``studios/``."""
    return slugify(producer or UNKNOWN_PRODUCER, 60) or UNKNOWN_PRODUCER


def first_free_name(name: str, taken: Callable[[str], bool]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``... the first that ``taken`` says is free."""
    if not taken(name):
        return name
    path = PurePath(name)
    counter = 2
    while True:
        candidate = f"{path.stem}-{counter}{path.suffix}"
        if not taken(candidate):
            return candidate
        counter += 1


def is_numbered_variant(name: str, wanted: str) -> bool:
    """Whether ``name`` is ``wanted`` or one of its ``-2``, ``-3``... variants."""
    if name == wanted:
        return True
    want, have = PurePath(wanted), PurePath(name)
    if want.suffix != have.suffix or not have.stem.startswith(want.stem + "-"):
        return False
    counter = have.stem[len(want.stem) + 1 :]
    return counter.isdigit() and int(counter) >= 2
