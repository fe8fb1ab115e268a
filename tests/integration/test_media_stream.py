"""Streams and thumbnails over real files: the Range contract byte for byte, the roots fence.

Every answer is compared with the file on disk. Paths that lead outside the public roots
(``..``, absolute paths elsewhere, symlinks out, a root itself) are refused with 404, and a
canary file outside the roots never shows up in any body.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, connect, insert_media, live_server

SIZE = 3 * 1024 * 1024 + 17


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def _publish(settings: Settings, size: int = SIZE) -> tuple[int, bytes, bytes]:
    """A gallery item with a real video file and thumbnail; returns (id, video, thumb)."""
    public = Path(settings.public_root).resolve() / "videos"
    thumbs = Path(settings.thumbnail_root).resolve() / "media"
    public.mkdir(parents=True, exist_ok=True)
    thumbs.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    thumb = b"\xff\xd8\xff" + os.urandom(2000)
    name = f"clip-{os.urandom(4).hex()}"
    (public / f"{name}.mp4").write_bytes(data)
    (thumbs / f"{name}.jpg").write_bytes(thumb)
    [media_id] = insert_media(
        settings,
        path=str(public / f"{name}.mp4"),
        filename=f"{name}.mp4",
        thumbnail_path=str(thumbs / f"{name}.jpg"),
        file_size=size,
    )
    return media_id, data, thumb


def test_range_contract_byte_exact(settings: Settings, client: httpx.Client) -> None:
    media_id, data, _ = _publish(settings)
    url = f"/api/media/public/{media_id}/stream"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == str(SIZE)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    assert etag.startswith('"') and modified.endswith("GMT")

    cases = {
        "bytes=0-99": (0, 100),
        "bytes=1000-1999999": (1000, 2000000),
        f"bytes={SIZE - 10}-": (SIZE - 10, SIZE),
        "bytes=5-": (5, SIZE),
        "bytes=-777": (SIZE - 777, SIZE),
        f"bytes=-{SIZE * 2}": (0, SIZE),
        f"bytes=100-{SIZE * 3}": (100, SIZE),
        "bytes=42-42": (42, 43),
    }
    for header, (start, end) in cases.items():
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}", header
        assert r.headers["content-length"] == str(end - start)
        assert r.content == data[start:end], header
        assert r.headers["etag"] == etag

    for header in (f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"):
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["content-range"] == f"bytes */{SIZE}"
        assert "error" in r.json()

    for header in ("bytes=9-3", "pages=1-2", "bytes=0-1,4-5"):  # ignored: the whole file
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == data, header

    r = client.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert r.status_code == 206 and r.content == data[10:20]
    r = client.get(url, headers={"Range": "bytes=10-19", "If-Range": modified})
    assert r.status_code == 206 and r.content == data[10:20]
    r = client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"changed"'})
    assert r.status_code == 200 and r.content == data

    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"x", {etag}'}):
        r = client.get(url, headers=headers)
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

    head = client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == f"bytes 0-9/{SIZE}"


def test_thumbnail_and_urls_in_json(settings: Settings, client: httpx.Client) -> None:
    media_id, _, thumb = _publish(settings, 4096)
    item = client.get("/api/media/public").json()["videos"][0]
    assert item["streamUrl"] == f"/api/media/public/{media_id}/stream"
    assert item["thumbnailUrl"] == f"/api/media/public/{media_id}/thumbnail"
    r = client.get(item["thumbnailUrl"])
    assert r.status_code == 200 and r.content == thumb
    assert r.headers["content-type"] == "image/jpeg"
    assert client.get(item["streamUrl"]).status_code == 200

    # no server path anywhere in public (or admin) JSON: library-relative like the seed
    library = str(Path(settings.library_root).resolve().parent)
    detail = client.get(f"/api/media/public/{media_id}")
    admin = client.get("/api/admin/media", headers=admin_headers(settings))
    for body in (client.get("/api/media/public").text, detail.text, admin.text):
        assert library not in body
    assert detail.json()["path"].startswith("/public/videos/clip-")
    assert detail.json()["thumbnailPath"].startswith("/thumbnails/media/clip-")
    assert item["thumbnailPath"] == detail.json()["thumbnailPath"]


def test_locked_and_missing(settings: Settings, client: httpx.Client) -> None:
    media_id, _, _ = _publish(settings, 1000)
    base = f"/api/media/public/{media_id}"
    with connect(settings) as conn:
        conn.execute("UPDATE public_media SET is_locked = true WHERE id = %s", (media_id,))
    for url in (base, f"{base}/stream", f"{base}/thumbnail"):
        r = client.get(url)
        assert r.status_code == 404 and r.json() == {"error": "Media not found"}, url
    with connect(settings) as conn:
        conn.execute("UPDATE public_media SET is_locked = false WHERE id = %s", (media_id,))
    assert client.get(f"{base}/stream").status_code == 200
    path = Path(client.get(base).json()["path"].removeprefix("/public/"))
    (Path(settings.public_root).resolve() / path).unlink()
    r = client.get(f"{base}/stream")
    assert r.status_code == 404 and r.json() == {"error": "File not found"}
    assert client.get("/api/media/public/999999/stream").status_code == 404


def test_paths_outside_the_roots_are_refused(
    settings: Settings, client: httpx.Client, tmp_path: Path
) -> None:
    public = Path(settings.public_root).resolve()
    (public / "videos").mkdir(parents=True, exist_ok=True)
    canary = tmp_path / "outside" / "secret.txt"
    canary.parent.mkdir()
    canary.write_bytes(b"CANARY-outside-the-roots")
    (public / "videos" / "link-out.mp4").symlink_to(canary)
    (public / "dir-out").symlink_to(canary.parent, target_is_directory=True)
    output = Path(settings.output_root).resolve()
    output.mkdir(parents=True, exist_ok=True)
    (output / "made.mp4").write_bytes(b"not public")
    bad_paths = [
        str(canary),
        str(public / ".." / "outside" / "secret.txt"),
        str(public / "videos" / ".." / ".." / ".." / "outside" / "secret.txt"),
        str(public / "videos" / "link-out.mp4"),
        str(public / "dir-out" / "secret.txt"),
        str(public),
        str(public / "videos"),
        str(output / "made.mp4"),
        "/etc/passwd",
        "/proc/self/environ",
        "secret.txt",
        "../outside/secret.txt",
        str(public / "videos" / "%2e%2e" / "%2e%2e" / "outside" / "secret.txt"),
        str(public) + "-sibling/secret.txt",
        "",
    ]
    for bad in bad_paths:
        [media_id] = insert_media(settings, path=bad, filename="x.mp4", thumbnail_path=bad)
        for which in ("stream", "thumbnail"):
            r = client.get(f"/api/media/public/{media_id}/{which}")
            assert r.status_code == 404, (bad, which, r.status_code)
            assert b"CANARY" not in r.content and b"root:" not in r.content


def test_a_large_file_streams_without_being_held_in_memory(settings: Settings) -> None:
    """A 256 MiB (sparse) file goes out while the server's Python heap stays far below it."""
    import tracemalloc

    folder = Path(settings.public_root).resolve() / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    big = folder / "big.mp4"
    size = 256 * 1024 * 1024
    with big.open("wb") as out:
        out.truncate(size)
    [media_id] = insert_media(settings, path=str(big), filename="big.mp4", file_size=size)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
        tracemalloc.start()
        try:
            received = 0
            with http.stream("GET", f"/api/media/public/{media_id}/stream") as response:
                assert response.status_code == 200
                for chunk in response.iter_raw(1024 * 1024):
                    received += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received == size
    assert peak < 48 * 1024 * 1024, peak  # server and client together, for a 256 MiB body
