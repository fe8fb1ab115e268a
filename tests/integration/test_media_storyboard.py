"""The storyboard job on a real video, its files through the API, and the sheet route's fence."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import httpx
from sqlalchemy import text

from mediaq.db import transaction
from mediaq.settings import Settings
from tests.integration.apiharness import connect, live_server
from tests.integration.browserharness import publish_file
from tests.integration.fleet import query
from tests.media_fixtures import execute_queued, make_video, run_inline

TRAVERSALS = [
    "..",
    "%2e%2e",
    "%2E%2E",
    "..%2f..%2fsecret.txt",
    "..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%2e%2e%5csecret.txt",
    "..%5c..%5csecret.txt",
    "....%2f%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "%2fetc%2fpasswd",
    "%2f%2e%2e%2f",
    "secret.txt%00.jpg",
    "sprite-001.jpg%00",
    "%00",
    "storyboard.vtt%2f..%2f..%2f..%2fsecret.txt",
    "..%c0%afsecret.txt",
    "%c0%ae%c0%ae%c0%afsecret.txt",
    ".",
    "link-out.jpg",
    "dir-out",
    "sprite-001.jpg%2f..%2f..%2f..%2fsecret.txt",
    "..%2f..%2fmedia%2fthumb.jpg",
    "~%2f.bashrc",
]


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """One GET with the request target exactly as given."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_storyboard_job_and_serving(settings: Settings, tmp_path: Path) -> None:
    media_id = publish_file(settings, "long-walk.mp4", "videos", seconds=12)
    run = run_inline(settings, "storyboard", {"mediaId": media_id, "columns": 4, "rows": 2})
    assert run.status == "completed", run.log
    result = run.result
    assert result["frames"] == 12 and result["sheets"] == 2
    assert (result["frameWidth"], result["frameHeight"]) == (160, 90)
    vtt = Path(result["path"])
    sheet = cv2.imread(str(vtt.parent / "sprite-001.jpg"))
    assert sheet.shape[:2] == (2 * 90, 4 * 160)

    # the fence: a canary outside the roots, links that lead out, and other folders
    canary = tmp_path / "secret.txt"
    canary.write_text("CANARY")
    (vtt.parent / "link-out.jpg").symlink_to(canary)
    (vtt.parent / "dir-out").symlink_to(tmp_path, target_is_directory=True)
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        detail = http.get(f"/api/media/public/{media_id}").json()
        track_url = detail["storyboardUrl"]
        assert track_url == f"/api/media/public/{media_id}/storyboard.vtt"
        track = http.get(track_url)
        assert track.status_code == 200 and track.headers["content-type"].startswith("text/vtt")
        assert track.text.count("-->") == 12
        first_sheet = track.text.split("\n")[3].split("#")[0]
        assert first_sheet == "storyboard/sprite-001.jpg"
        got = http.get(f"/api/media/public/{media_id}/{first_sheet}")
        assert (
            got.status_code == 200 and got.content == (vtt.parent / "sprite-001.jpg").read_bytes()
        )
        assert got.headers["content-type"] == "image/jpeg"

        for spelling in TRAVERSALS:  # sent as written: no client normalises the path
            status, body = raw_get(base, f"/api/media/public/{media_id}/storyboard/{spelling}")
            assert status == 404, (spelling, status)
            assert b"CANARY" not in body and b"root:" not in body
        assert len(TRAVERSALS) >= 20

        with connect(settings) as conn:
            conn.execute("UPDATE public_media SET is_locked = true WHERE id = %s", (media_id,))
        for url in (track_url, f"/api/media/public/{media_id}/{first_sheet}"):
            assert http.get(url).status_code == 404


def test_publish_gives_a_product_its_own_name_picture_and_storyboard(settings: Settings) -> None:
    make_video(Path(settings.library_root) / "inbox" / "source.mp4", 2, 320, 240)
    assert run_inline(settings, "scan", {}).status == "completed"
    [video] = query(settings, "SELECT id, thumbnail_path FROM videos")
    product = Path(settings.output_root).resolve() / "compilations" / "quad-j99.mp4"
    make_video(product, 2, 640, 480, source="testsrc2")
    pub = run_inline(
        settings, "publish", {"videoId": video.id, "path": str(product), "category": "compilations"}
    )
    assert pub.status == "completed", pub.log
    [media] = query(settings, "SELECT * FROM public_media")
    assert media.filename == "quad-j99.mp4"  # not the first source's name
    assert media.thumbnail_path not in (None, video.thumbnail_path)
    ours = cv2.imread(media.thumbnail_path)
    assert ours.shape[:2] == (240, 320)  # a frame of the 640x480 product, 320 wide
    [job] = query(settings, "SELECT id, type, params FROM jobs WHERE type = 'storyboard'")
    assert job.params == {"mediaId": media.id} and pub.result["storyboardJobId"] == job.id
    with transaction(settings.database_url) as session:
        session.execute(text("UPDATE jobs SET status = 'queued' WHERE id = :id"), {"id": job.id})
    execute_queued(settings, job.id)
    [media] = query(settings, "SELECT storyboard_path FROM public_media")
    assert media.storyboard_path and Path(media.storyboard_path).is_file()
