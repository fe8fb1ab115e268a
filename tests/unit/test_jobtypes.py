"""Each job type's declaration: its params model accepts its example and refuses, naming the
key, every required key left out and every key of the wrong type; its handler resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mediaq.enqueue import JobSpec, job_row
from mediaq.errors import InvalidParams, ValidationError
from mediaq.jobparams import JobParams
from mediaq.jobtypes import JOB_TYPES
from scheduler.fleet import DEFAULT_EXPECTED_S
from tasks.media.params import read_params
from tasks.registry import handler_for
from tests.jobtype_cases import ALL_BAD, example


@pytest.mark.parametrize("name", sorted(JOB_TYPES))
def test_the_example_is_a_valid_job(name: str) -> None:
    row = job_row(JobSpec(name, example(JOB_TYPES[name])))
    assert row["params"] == example(JOB_TYPES[name])
    assert row["max_attempts"] == JOB_TYPES[name].max_attempts


@pytest.mark.parametrize(("name", "key", "params"), ALL_BAD)
def test_a_missing_or_mistyped_key_is_refused_by_name(
    name: str, key: str, params: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match=f"params.{key}"):
        job_row(JobSpec(name, params))
    with pytest.raises(InvalidParams, match=f"params.{key}"):  # the worker's reading
        read_params(params, JOB_TYPES[name].params)


@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("generate_gif", {"videoId": "abc"}, "params.videoId"),
        ("generate_gif", {"videoId": 0}, "params.videoId"),
        ("generate_gif", {"videoId": True}, "params.videoId"),
        ("generate_gif", {"videoId": 1, "fps": 31}, "params.fps"),
        ("generate_gif", {"videoId": 1, "colour": "red"}, "params.colour"),
        ("reencode_streaming", {"videoId": 1, "preset": "fastest"}, "params.preset"),
        ("compile_quad", {"videoIds": [1, 2, 3]}, "params.videoIds"),
        ("compile_quad", {"videoIds": [1, 2, 3, "4"]}, "params.videoIds.3"),
        ("scan", {"root": " "}, "params.root"),
        ("unpublish", {}, "give mediaId or videoId"),
        ("noop", {"seconds": float("nan")}, "params.seconds"),
        ("noop", {"expectedSeconds": -1}, "params.expectedSeconds"),
        ("fetch", {"url": "ftp://example.com/a.mp4"}, "params.url"),
        ("fetch", {"url": "http:///a.mp4"}, "params.url"),
        ("fetch", {"url": "example.com/a.mp4"}, "params.url"),
    ],
)
def test_bounds_and_unknown_keys_are_refused(name: str, params: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named.replace(".", r"\.")):
        job_row(JobSpec(name, params))


def test_noop_keeps_other_keys_and_an_absent_optional_key_takes_its_default() -> None:
    assert job_row(JobSpec("noop", {"i": 3}))["params"] == {"i": 3}
    gif = read_params({"videoId": 4}, JOB_TYPES["generate_gif"].params)
    assert gif.model_dump(include={"width", "fps", "duration"}) == {
        "width": 320,
        "fps": 12,
        "duration": 3.0,
    }


@pytest.mark.parametrize("name", sorted(JOB_TYPES))
def test_every_declared_handler_resolves(name: str) -> None:
    assert callable(handler_for(name))
    assert DEFAULT_EXPECTED_S[name] == JOB_TYPES[name].expected_s > 0


def test_the_media_docs_name_exactly_each_types_keys() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "media.md").read_text()
    section = docs.split("## Job types and params", 1)[1].split("\n## ", 1)[0]
    common = set(JobParams.model_fields)
    seen = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.replace("\\|", " or ").split("|")]
        if len(cells) < 4 or not cells[1].startswith("`") or cells[1] == "Type":
            continue
        names = re.findall(r"`(\w+)`", cells[1])
        written = set(re.findall(r"[A-Za-z]+", cells[2]))
        for name in names:
            model = JOB_TYPES[name].params
            keys = {f.alias or k for k, f in model.model_fields.items() if k not in common}
            assert written & ALL_KEYS == keys, name
            seen.add(name)
    assert seen == set(JOB_TYPES)


ALL_KEYS = {f.alias or k for t in JOB_TYPES.values() for k, f in t.params.model_fields.items()} - {
    "expectedSeconds",
    "usesEncoder",
}
