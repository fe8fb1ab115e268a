"""Chunked hashing, URL checks, the scan's decisions and tree walk, job params."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaq.errors import AttemptSuperseded, InvalidParams
from mediaq.jobparams import ClipParams, CompilationParams
from tasks.media import fetcher
from tasks.media.fetcher import check_destination, check_url, final_name, is_internal, name_from_url
from tasks.media.hashing import hash_file
from tasks.media.outputs import atomic_dir, atomic_file, move_no_clobber
from tasks.media.params import read_params
from tasks.media.scanner import FileStat, KnownFile, classify, walk_tree


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 700))
def test_chunked_hash_equals_one_shot_hash(tmp_path_factory, data: bytes, chunk: int) -> None:
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(data)
    seen: list[int] = []
    assert hash_file(path, seen.append, chunk) == hashlib.sha256(data).hexdigest()
    assert seen == sorted(seen) and (not data or seen[-1] == len(data))


def test_scan_decisions() -> None:
    stat = FileStat("/l/a.mp4", 100, 5)
    assert classify(stat, None) == "new"
    assert classify(stat, KnownFile(1, 100, 5, True, "h")) == "unchanged"
    assert classify(stat, KnownFile(1, 101, 5, True, "h")) == "changed"
    assert classify(stat, KnownFile(1, 100, 6, True, "h")) == "changed"
    assert classify(stat, KnownFile(1, 100, 5, False, "h")) == "returned"


def test_walk_skips_hidden_excluded_and_non_video_files(tmp_path: Path) -> None:
    for rel in (
        "b.mp4",
        "a/c.MKV",
        "a/notes.txt",
        ".hidden/d.mp4",
        "a/.e.part.mp4",
        "thumbs/t.mp4",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    videos, skipped = walk_tree(tmp_path, [tmp_path / "thumbs"])
    assert [Path(v.path).relative_to(tmp_path).as_posix() for v in videos] == ["a/c.MKV", "b.mp4"]
    assert [Path(p).name for p in skipped] == ["notes.txt"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://h/x.mp4", "javascript:alert(1)", "http:///x", "", 5]
)
def test_only_http_urls_with_a_host(url: object) -> None:
    with pytest.raises(InvalidParams):
        check_url(url)


def test_names_from_urls() -> None:
    assert check_url(" https://example.com/a.mp4 ") == "https://example.com/a.mp4"
    assert name_from_url("http://h/some%20Clip.MP4?x=1") == "some-clip.mp4"
    assert name_from_url("http://h/") == "download"
    assert name_from_url("http://h/../../etc/passwd") == "passwd"
    assert final_name("clip", "matroska,webm") == "clip.mkv"
    assert final_name("clip.mp4", "matroska,webm") == "clip.mp4"
    with pytest.raises(InvalidParams):
        final_name("clip", "image2")


class Attempt:
    """An attempt whose ownership of its job the test decides (the real fence is a row
    lock, exercised in tests/faults)."""

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt
        self.owns = True

    @contextmanager
    def fenced(self) -> Iterator[None]:
        if not self.owns:
            raise AttemptSuperseded(f"attempt {self.attempt} superseded")
        yield


def test_atomic_file_leaves_nothing_on_error(tmp_path: Path) -> None:
    final = tmp_path / "out" / "x.mp4"
    with pytest.raises(RuntimeError), atomic_file(final, Attempt(1)) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("cancelled")
    assert list(final.parent.iterdir()) == []
    with atomic_file(final, Attempt(1)) as tmp:
        tmp.write_bytes(b"whole")
    assert final.read_bytes() == b"whole" and list(final.parent.iterdir()) == [final]


def test_a_superseded_attempt_never_replaces_the_winners_output(tmp_path: Path) -> None:
    final = tmp_path / "out" / "x.mp4"
    zombie, winner = Attempt(1), Attempt(2)
    with pytest.raises(AttemptSuperseded), atomic_file(final, zombie) as z_tmp:
        z_tmp.write_bytes(b"zombie")
        zombie.owns = False  # rescued while it wrote; the next attempt runs and finishes
        with atomic_file(final, winner) as w_tmp:
            assert w_tmp != z_tmp  # each attempt writes a temp file of its own
            w_tmp.write_bytes(b"winner")
    assert final.read_bytes() == b"winner"
    assert list(final.parent.iterdir()) == [final]


def test_atomic_dir_replaces_a_dead_attempts_directory(tmp_path: Path) -> None:
    final = tmp_path / "hls"
    final.mkdir()
    (final / "old.ts").write_bytes(b"old")
    with atomic_dir(final, Attempt(3)) as tmp:
        (tmp / "new.ts").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls"]
    assert [p.name for p in final.iterdir()] == ["new.ts"]


def test_move_never_clobbers(tmp_path: Path) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        move_no_clobber(src, dst)
    assert (src.read_bytes(), dst.read_bytes()) == (b"new", b"old")
    move_no_clobber(src, tmp_path / "sub" / "c")
    assert not src.exists() and (tmp_path / "sub" / "c").read_bytes() == b"new"


def test_a_handler_reads_its_params_through_the_model() -> None:
    clip = read_params({"videoId": 3, "start": 1, "duration": 2.5}, ClipParams)
    assert (clip.video_id, clip.start, clip.duration) == (3, 1.0, 2.5)
    for bad in ({"videoId": True}, {"videoId": "3"}, {"videoId": 2.5}, {"videoId": -1}):
        with pytest.raises(InvalidParams, match=r"params\.videoId"):
            read_params({**bad, "start": 0, "duration": 1}, ClipParams)
    with pytest.raises(InvalidParams, match=r"params\.start"):
        read_params({"videoId": 3, "start": float("nan"), "duration": 1}, ClipParams)
    with pytest.raises(InvalidParams, match=r"params\.videoIds"):
        read_params({"videoIds": []}, CompilationParams)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.5.5", "169.254.169.254", "::1",
     "fe80::1", "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_internal_addresses_are_recognised(address: str) -> None:
    assert is_internal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:85e5", "8.8.8.8"])
def test_public_addresses_are_not_internal(address: str) -> None:
    assert not is_internal(address)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/x.mp4", "http://localhost/x.mp4", "http://[::1]/a.mp4"]
)
def test_fetch_refuses_internal_destinations_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidParams, match="internal address"):
        check_destination(url, allow_internal=False)
    check_destination(url, allow_internal=True)


def test_a_redirect_to_an_internal_address_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/video.mp4"
        # the test server is on loopback, so its own hop is let through; every redirect
        # target is checked again on its own
        calls: list[str] = []

        def first_hop_allowed(target: str, allow_internal: bool) -> None:
            calls.append(target)
            check_destination(target, allow_internal=len(calls) == 1)

        monkeypatch.setattr(fetcher, "check_destination", first_hop_allowed)
        with pytest.raises(InvalidParams, match="internal address"):
            fetcher.download(url, tmp_path / "out.mp4", 10_000, lambda done, total: None)
        assert calls[1] == "http://169.254.169.254/latest/meta-data"
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "out.mp4").exists()
