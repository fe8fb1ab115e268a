"""HTTP conditional and Range decisions for a file, as browsers and players need them (pure).

``plan(...)`` turns a request's method and headers plus the file's size and mtime into what
to answer: 200 with the whole file, 206 with one byte range, 304, or 416. It follows RFC 9110:

- ``If-None-Match`` (weak comparison, ``*`` included) and, only without it,
  ``If-Modified-Since`` answer 304 to GET and HEAD;
- ``Range: bytes=a-b``, ``a-`` and ``-n`` (suffix) select one range; the end is clipped to the
  file; a first byte at or past the end, a zero suffix or any range of an empty file is 416
  with ``Content-Range: bytes */size``;
- a Range that is not a valid single ``bytes`` range (another unit, garbage, ``b < a``, or a
  list of several ranges) is ignored and the whole file is sent, as the RFC allows: players
  never ask for several ranges, and a multipart body would only slow them down;
- ``If-Range`` keeps the Range only when it equals the strong ETag or the exact
  ``Last-Modified`` date; otherwise the whole file is sent (the file changed under the client).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FileMeta:
    size: int
    mtime_ns: int

    @property
    def etag(self) -> str:
        """A strong validator from size and modification time (nginx's idea)."""
        return f'"{self.mtime_ns:x}-{self.size:x}"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime_ns // 1_000_000_000, usegmt=True)


@dataclass(frozen=True)
class Plan:
    status: int  # 200, 206, 304 or 416
    start: int = 0  # first byte to send
    end: int = 0  # one past the last byte to send

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str, size: int) -> Plan | None:
    """206 with the range, 416 when unsatisfiable, None to ignore the header.

    None means the header is not one valid ``bytes`` range, so the whole file is sent.
    """
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return Plan(416)
        return Plan(206, max(0, size - n), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return Plan(416)
    return Plan(206, start, size if not last else min(int(last), size - 1) + 1)


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison against a list of tags (or ``*``)."""
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def _not_modified_since(header: str, meta: FileMeta) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return meta.mtime_ns // 1_000_000_000 <= int(since.timestamp())


def plan(
    method: str,
    meta: FileMeta,
    range_header: str | None = None,
    if_range: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
) -> Plan:
    """What to answer for a GET or HEAD of a file with ``meta``."""
    if if_none_match is not None:
        if _etag_matches(if_none_match, meta.etag):
            return Plan(304)
    elif if_modified_since is not None and _not_modified_since(if_modified_since, meta):
        return Plan(304)
    whole = Plan(200, 0, meta.size)
    if range_header is None or method.upper() not in ("GET", "HEAD"):
        return whole
    if if_range is not None:
        value = if_range.strip()
        if value.startswith("W/") or value not in (meta.etag, meta.last_modified):
            return whole
    return parse_range(range_header, meta.size) or whole


def content_range(p: Plan, size: int) -> str:
    """The ``Content-Range`` of a 206 or 416 answer."""
    if p.status == 416:
        return f"bytes */{size}"
    return f"bytes {p.start}-{p.end - 1}/{size}"
