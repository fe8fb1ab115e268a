"""``mediaq enqueue --help`` derives from the job type declarations: every type, every param."""

from __future__ import annotations

from mediaq.jobparams import JobParams
from mediaq.jobtypes import JOB_TYPES
from ops.enqueuehelp import job_types_help, schema_type


def test_every_type_lists_its_params_with_required_ones_marked() -> None:
    text = job_types_help()
    blocks: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("    "):
            current = line.split(":")[0].strip()
            blocks[current] = ""
        elif current:
            blocks[current] += line + "\n"
    assert set(blocks) == set(JOB_TYPES)
    for name, t in JOB_TYPES.items():
        schema = t.params.model_json_schema(by_alias=True)
        for key in schema.get("properties", {}):
            if key in JobParams.model_json_schema(by_alias=True)["properties"]:
                continue  # listed once, under "every type also takes"
            state = "required" if key in schema.get("required", []) else ""
            assert f"      {key} (" in blocks[name], (name, key)
            if state:
                assert any(
                    ln.startswith(f"      {key} (") and ", required)" in ln
                    for ln in blocks[name].splitlines()
                ), (name, key)


def test_schema_types_read_as_a_user_writes_them() -> None:
    assert schema_type({"type": "integer"}) == "int"
    assert schema_type({"type": "array", "items": {"type": "integer"}}) == "list of int"
    assert schema_type({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "text"
    assert schema_type({"enum": ["a", "b"]}) == "a|b"
