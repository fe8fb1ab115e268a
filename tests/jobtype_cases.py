"""Cases built from each job type's declaration: a valid example, each required key left out,
each key given a value of the wrong JSON type. Shared by the pure and the API tests."""

from __future__ import annotations

from typing import Any

from mediaq.jobtypes import JOB_TYPES, JobType


def example(kind: JobType) -> dict[str, Any]:
    examples: list[dict[str, Any]] = kind.params.model_json_schema()["examples"]
    return dict(examples[0])


def _is_array(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(option.get("type") == "array" for option in options)


def bad_cases(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(the key that must be named in the error, params) for every refusal of ``name``."""
    kind = JOB_TYPES[name]
    schema = kind.params.model_json_schema()
    valid = example(kind)
    cases = []
    for key in schema.get("required", []):
        cases.append((key, {k: v for k, v in valid.items() if k != key}))
    for key, prop in schema["properties"].items():
        cases.append((key, valid | {key: "x" if _is_array(prop) else [1]}))
    return cases


ALL_BAD = [(name, key, params) for name in JOB_TYPES for key, params in bad_cases(name)]
