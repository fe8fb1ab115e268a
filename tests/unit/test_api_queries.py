"""Query and path models: integers written as integers, blanks as absent, page sizes capped,
and every refusal a 400 naming the parameter."""

from __future__ import annotations

import pytest

from api_shim.bodies import validate
from api_shim.errors import ApiError
from api_shim.queries import ClassPath, CommentsQuery, GalleryQuery, IdPath, JobsQuery


def refusal(model: type, data: dict[str, object]) -> str:
    with pytest.raises(ApiError) as info:
        validate(model, data)
    assert info.value.status_code == 400
    return info.value.message


def test_integers_must_be_written_as_integers_within_their_bounds() -> None:
    assert validate(GalleryQuery, {"limit": "7", "offset": "0"}).limit == 7
    for text in ("abc", "1.0", "+1", "1_0", " 1", "", "0x1"):
        assert refusal(GalleryQuery, {"limit": text}).startswith("limit: Input should be")
    assert refusal(GalleryQuery, {"offset": "-1"}) == (
        "offset: Input should be greater than or equal to 0"
    )
    assert refusal(IdPath, {"id": "2147483648"}).startswith("id: Input should be less than")
    assert validate(IdPath, {"id": 5}).id == 5  # an {id:int} route hands over an int


def test_page_sizes_above_the_cap_read_as_the_cap() -> None:
    assert validate(GalleryQuery, {"limit": "1000"}).limit == 100
    assert validate(GalleryQuery, {}).limit == 24


def test_a_blank_text_or_choice_is_not_given_and_unknown_names_are_ignored() -> None:
    query = validate(GalleryQuery, {"sort": "", "search": "", "category": "", "x": "y"})
    assert (query.sort, query.search, query.category) == ("recent", None, None)
    assert validate(JobsQuery, {"status": "", "q": ""}).status is None
    assert refusal(JobsQuery, {"before": ""}).startswith("before: Input should be")


def test_refusals_name_the_parameter() -> None:
    assert refusal(CommentsQuery, {}) == "mediaId is required"
    assert refusal(GalleryQuery, {"sort": "x"}).startswith("sort must be one of: 'recent'")
    assert refusal(ClassPath, {"class": "gpu"}).startswith("class must be one of")
    assert "search" in refusal(GalleryQuery, {"search": "a\x00b"})
    assert refusal(GalleryQuery, {"category": "c" * 101}).startswith("category:")
