"""Behind nginx: the API decides, nginx sends the bytes (X-Accel-Redirect), Range included.

nginx (Debian's package, installed by scripts/bootstrap) runs with ``deploy/nginx.conf``,
its upstream, port and library folders pointed at this test's.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api_shim.app import create_app
from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, free_port, insert_media, live_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def nginx_conf(api: str, port: int, settings: Settings, work: Path) -> str:
    """``deploy/nginx.conf`` with this test's upstream, port, folders and pid file."""
    text = CONF.read_text()
    replaced = {
        "server api:4100;": f"server {api.removeprefix('http://')};",
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "alias /data/library/public/;": f"alias {Path(settings.public_root).resolve()}/;",
        "alias /data/library/thumbnails/;": f"alias {Path(settings.thumbnail_root).resolve()}/;",
        "pid /tmp/nginx-mediaq.pid;": f"pid {work}/nginx.pid;\nerror_log {work}/error.log;",
    }
    for old, new in replaced.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def front(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    if not os.path.exists(NGINX):
        if os.environ.get("CI"):
            pytest.fail("nginx is missing; scripts/bootstrap installs it")
        pytest.skip("no nginx here (scripts/bootstrap installs it)")
    accel = dataclasses.replace(settings, accel_redirect="/_media")
    work = tmp_path / "nginx"
    for sub in ("", "client", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(exist_ok=True)
    with live_server(accel, create_app(accel)) as api:
        port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(nginx_conf(api, port, settings, work))
        temp_paths = [
            f"client_body_temp_path {work}/client; proxy_temp_path {work}/proxy; "
            f"fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi; "
            f"scgi_temp_path {work}/scgi;"
        ]
        text = conf.read_text().replace("http {", "http {\n    " + temp_paths[0], 1)
        if os.geteuid() == 0:  # workers would drop to "nobody", who cannot read tmp_path
            text = "user root;\n" + text
        conf.write_text(text)
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proc.stderr.read()!r}") from None
                time.sleep(0.1)
        try:
            yield base, accel
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            assert proc.stderr is not None
            proc.stderr.close()


def test_nginx_sends_what_the_api_allows(front: tuple[str, Settings]) -> None:
    base, settings = front
    folder = Path(settings.public_root).resolve() / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    data = os.urandom(2 * 1024 * 1024 + 3)
    name = "a clip #1 (été).mp4"  # characters that must be escaped in the redirect
    (folder / name).write_bytes(data)
    [media_id] = insert_media(settings, path=str(folder / name), filename=name)
    url = f"{base}/api/media/public/{media_id}/stream"
    with httpx.Client(timeout=30) as http:
        whole = http.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "video/mp4"
        assert "x-accel-redirect" not in whole.headers  # nginx consumed it
        part = http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        tail = http.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        assert http.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
        etag = whole.headers["etag"]
        assert http.get(url, headers={"If-None-Match": etag}).status_code == 304

        # the internal location is not reachable from outside
        assert http.get(f"{base}/_media/public/videos/{name}").status_code == 404
        # the API still decides: locked is 404, and nothing is handed to nginx
        lock = {"ids": [media_id]}
        http.post(f"{base}/api/admin/media/lock", json=lock, headers=admin_headers(settings))
        locked = http.get(url)
        assert locked.status_code == 404 and locked.json() == {"error": "Media not found"}
