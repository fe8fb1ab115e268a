"""Range and conditional decisions against a reference model of RFC 9110 (bounded)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from api_shim.byteranges import FileMeta, Plan, content_range, plan

META = FileMeta(size=1000, mtime_ns=1_700_000_000_123_456_789)


def test_the_three_range_forms() -> None:
    assert plan("GET", META, "bytes=0-99") == Plan(206, 0, 100)
    assert plan("GET", META, "bytes=990-") == Plan(206, 990, 1000)
    assert plan("GET", META, "bytes=-10") == Plan(206, 990, 1000)
    assert plan("GET", META, "bytes=-5000") == Plan(206, 0, 1000)
    assert plan("GET", META, "bytes=900-5000") == Plan(206, 900, 1000)
    assert plan("GET", META, "BYTES = 5 - 5") == Plan(206, 5, 6)
    assert content_range(Plan(206, 0, 100), 1000) == "bytes 0-99/1000"


def test_unsatisfiable_and_ignored() -> None:
    assert plan("GET", META, "bytes=1000-").status == 416
    assert plan("GET", META, "bytes=1000-2000").status == 416
    assert plan("GET", META, "bytes=-0").status == 416
    assert plan("GET", FileMeta(0, 1), "bytes=0-").status == 416
    assert plan("GET", FileMeta(0, 1), "bytes=-1").status == 416
    assert content_range(Plan(416), 1000) == "bytes */1000"
    for ignored in ("bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=-", "bytes=x-1", "garbage"):
        assert plan("GET", META, ignored) == Plan(200, 0, 1000), ignored
    assert plan("POST", META, "bytes=0-1") == Plan(200, 0, 1000)


def test_conditionals() -> None:
    assert plan("GET", META, if_none_match=META.etag).status == 304
    assert plan("GET", META, if_none_match=f'"nope", W/{META.etag}').status == 304
    assert plan("HEAD", META, if_none_match="*").status == 304
    assert plan("GET", META, if_none_match='"other"').status == 200
    assert plan("GET", META, if_modified_since=META.last_modified).status == 304
    assert plan("GET", META, if_modified_since="Mon, 01 Jan 2001 00:00:00 GMT").status == 200
    assert plan("GET", META, if_modified_since="not a date").status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
    both = plan("GET", META, if_none_match='"x"', if_modified_since=META.last_modified)
    assert both.status == 200
    assert plan("GET", META, "bytes=0-9", if_range=META.etag) == Plan(206, 0, 10)
    assert plan("GET", META, "bytes=0-9", if_range=META.last_modified) == Plan(206, 0, 10)
    assert plan("GET", META, "bytes=0-9", if_range='"stale"') == Plan(200, 0, 1000)
    assert plan("GET", META, "bytes=0-9", if_range="W/" + META.etag) == Plan(200, 0, 1000)


def reference(size: int, first: int | None, last: int | None) -> tuple[int, int, int]:
    """What RFC 9110 asks for ``bytes=first-last`` (None = omitted)."""
    if first is None:
        assert last is not None
        if last == 0 or size == 0:
            return (416, 0, 0)
        return (206, max(0, size - last), size)
    if last is not None and last < first:
        return (200, 0, size)
    if first >= size:
        return (416, 0, 0)
    end = size if last is None else min(last, size - 1) + 1
    return (206, first, end)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(0, 5000),
    first=st.none() | st.integers(0, 6000),
    last=st.none() | st.integers(0, 6000),
)
def test_single_ranges_match_the_rfc(size: int, first: int | None, last: int | None) -> None:
    if first is None and last is None:
        return
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    got = plan("GET", FileMeta(size, 1), header)
    want = reference(size, first, last)
    assert (got.status, got.start, got.end) == want or (want[0] == 416 and got.status == 416)
    if got.status == 206:
        assert 0 <= got.start < got.end <= size
