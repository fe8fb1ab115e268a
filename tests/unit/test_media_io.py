"""Chunked hashing, URL checks, the scan's decisions and tree walk, job params."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaq.errors import InvalidParams
from tasks.media.fetcher import check_url, final_name, name_from_url
from tasks.media.hashing import hash_file
from tasks.media.outputs import atomic_file, move_no_clobber
from tasks.media.params import get_float, get_int, get_str, video_ids
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


def test_atomic_file_leaves_nothing_on_error(tmp_path: Path) -> None:
    final = tmp_path / "out" / "x.mp4"
    with pytest.raises(RuntimeError), atomic_file(final) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("cancelled")
    assert list(final.parent.iterdir()) == []
    with atomic_file(final) as tmp:
        tmp.write_bytes(b"whole")
    assert final.read_bytes() == b"whole" and list(final.parent.iterdir()) == [final]


def test_move_never_clobbers(tmp_path: Path) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        move_no_clobber(src, dst)
    assert (src.read_bytes(), dst.read_bytes()) == (b"new", b"old")
    move_no_clobber(src, tmp_path / "sub" / "c")
    assert not src.exists() and (tmp_path / "sub" / "c").read_bytes() == b"new"


def test_params() -> None:
    assert get_int({"n": 3.0}, "n") == 3
    assert get_float({}, "x", 1.5) == 1.5
    assert video_ids({"videoIds": [1, 2]}) == [1, 2]
    for bad in ({"n": True}, {"n": "3"}, {"n": 2.5}, {"n": -1}):
        with pytest.raises(InvalidParams):
            get_int(bad, "n", minimum=0)
    with pytest.raises(InvalidParams):
        get_float({"x": float("nan")}, "x")
    with pytest.raises(InvalidParams):
        get_str({"p": "fastest"}, "p", choices=("fast", "slow"))
    with pytest.raises(InvalidParams):
        video_ids({"videoIds": [1, "2"]})
    with pytest.raises(InvalidParams):
        video_ids({"videoIds": []})
