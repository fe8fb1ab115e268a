"""Downloading a video over http(s) with a size limit: pure URL checks and the transfer."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from mediaq.errors import InvalidParams
from mediaq.jobparams import http_url
from tasks.media.labels import is_video_name
from tasks.media.names import slugify

CHUNK_BYTES = 1 << 20
TIMEOUT = httpx.Timeout(30.0, read=60.0)
MAX_REDIRECTS = 5
# Container names PyAV reports, and the extension a file of that kind gets.
EXTENSION_FOR_FORMAT = {
    "mov,mp4,m4a,3gp,3g2,mj2": ".mp4",
    "matroska,webm": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
    "flv": ".flv",
    "gif": ".gif",
    "mpeg": ".mpg",
    "asf": ".wmv",
}


class TooLarge(InvalidParams):
    """The download is larger than the configured limit."""


def check_url(url: object) -> str:
    """The URL when it is http(s) with a host (``http_url``); InvalidParams otherwise."""
    if not isinstance(url, str):
        raise InvalidParams("url must be a string")
    try:
        return http_url(url)
    except ValueError as exc:
        raise InvalidParams(f"url {exc}") from None


def is_internal(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_destination(url: str, allow_internal: bool) -> None:
    """Refuse a URL whose host resolves to an internal address (server-side request
    forgery: a fetch job must not reach the metadata service, the database or the broker).
    A host that does not resolve is a permanent error too."""
    if allow_internal:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidParams(f"cannot resolve host {host!r}") from None
    for info in infos:
        if is_internal(str(info[4][0])):
            raise InvalidParams(
                f"{host} resolves to the internal address {info[4][0]}; refusing to fetch "
                "(MEDIAQ_FETCH_ALLOW_PRIVATE=true allows it)"
            )


def name_from_url(url: str) -> str:
    """A safe file name from the URL's last path segment (``download`` when none)."""
    last = PurePosixPath(unquote(urlsplit(url).path)).name
    stem, suffix = PurePosixPath(last).stem, PurePosixPath(last).suffix.lower()
    safe = slugify(stem, 80) or "download"
    return safe + suffix if is_video_name(f"x{suffix}") else safe


def final_name(url_name: str, format_name: str) -> str:
    """Keep a video extension the URL had; else take the one of the probed container."""
    if is_video_name(url_name):
        return url_name
    ext = EXTENSION_FOR_FORMAT.get(format_name)
    if ext is None:
        raise InvalidParams(f"unsupported container {format_name!r}")
    return f"{PurePosixPath(url_name).stem}{ext}"


def download(
    url: str,
    dst: Path,
    limit_bytes: int,
    on_chunk: Callable[[int, int | None], None],
    allow_internal: bool = False,
) -> int:
    """Stream ``url`` into ``dst`` (created exclusively); return its size.

    Refuses at once when Content-Length says too large, and stops as soon as the bytes
    received pass the limit (a server may lie or send no length). ``on_chunk(done, total)``
    runs after every chunk: that is where the caller checks for cancellation.
    """
    with httpx.Client(follow_redirects=False, timeout=TIMEOUT) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_destination(url, allow_internal)
            with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = check_url(urljoin(url, response.headers["location"]))
                    continue
                return _receive(response, url, dst, limit_bytes, on_chunk)
    raise InvalidParams(f"more than {MAX_REDIRECTS} redirects")


def _receive(
    response: httpx.Response,
    url: str,
    dst: Path,
    limit_bytes: int,
    on_chunk: Callable[[int, int | None], None],
) -> int:
    """Write the body of one (non-redirect) response into ``dst`` within the limit."""
    if 400 <= response.status_code < 500:
        raise InvalidParams(f"{url} answered {response.status_code}")
    response.raise_for_status()
    declared = response.headers.get("content-length")
    total = int(declared) if declared and declared.isdigit() else None
    if total is not None and total > limit_bytes:
        raise TooLarge(f"{url} is {total} bytes, over the limit of {limit_bytes} bytes")
    done = 0
    with open(dst, "xb") as out:
        for chunk in response.iter_bytes(CHUNK_BYTES):
            done += len(chunk)
            if done > limit_bytes:
                raise TooLarge(f"{url} sent more than the limit of {limit_bytes} bytes")
            out.write(chunk)
            on_chunk(done, total)
    return done
