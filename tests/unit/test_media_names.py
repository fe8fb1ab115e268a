"""Name standardization: slugs, producers, titles, standard names, free names."""

from __future__ import annotations

from pathlib import PurePath

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.media.names import (
    first_free_name,
    is_numbered_variant,
    producer_from_path,
    slugify,
    split_producer,
    standard_filename,
    title_from_filename,
)


def test_slugify() -> None:
    assert slugify("Été à Paris!") == "ete-a-paris"
    assert slugify("  --Hello__World--  ") == "hello-world"
    assert slugify("x" * 200, 10) == "x" * 10
    assert slugify("日本") == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_slugs_are_safe_file_name_parts(text: str) -> None:
    slug = slugify(text)
    assert len(slug) <= 80
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")
    assert slugify(slug) == slug


def test_producer_and_title() -> None:
    assert split_producer("Acme - Summer Trip") == ("Acme", "Summer Trip")
    assert split_producer("[Acme] Summer Trip") == ("Acme", "Summer Trip")
    assert split_producer("summer-trip") == (None, "summer-trip")
    assert title_from_filename("Acme - Summer_Trip.1080p.mp4") == "Summer Trip"
    assert title_from_filename("holiday (720p).mkv") == "holiday"
    assert producer_from_path(PurePath("studios/Big Co/x.mp4")) == "Big Co"
    assert producer_from_path(PurePath("inbox/Acme - x.mp4")) == "Acme"
    assert producer_from_path(PurePath("inbox/x.mp4")) is None


def test_standard_filename() -> None:
    assert standard_filename("Acme", "Summer Trip", "1080p", ".MP4") == "acme-summer-trip-1080p.mp4"
    assert standard_filename(None, "", None, "mkv") == "unknown-untitled.mkv"


def test_first_free_name_and_variants() -> None:
    taken = {"a.mp4", "a-2.mp4"}
    assert first_free_name("b.mp4", taken.__contains__) == "b.mp4"
    assert first_free_name("a.mp4", taken.__contains__) == "a-3.mp4"
    assert is_numbered_variant("a-3.mp4", "a.mp4")
    assert is_numbered_variant("a.mp4", "a.mp4")
    assert not is_numbered_variant("a-1.mp4", "a.mp4")
    assert not is_numbered_variant("a-x.mp4", "a.mp4")
    assert not is_numbered_variant("a-2.mkv", "a.mp4")
