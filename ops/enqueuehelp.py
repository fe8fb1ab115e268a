"""``mediaq enqueue --help``: every job type and its params, from the job type declarations
(``mediaq.jobtypes``) and their params models (``mediaq.jobparams``)."""

from __future__ import annotations

import json
from typing import Any

from mediaq.jobparams import JobParams
from mediaq.jobtypes import JOB_TYPES


def schema_type(prop: dict[str, Any]) -> str:
    """A short name of a JSON Schema property's type: ``int``, ``list of int``, ``a|b`` (pure)."""
    if "enum" in prop:
        return "|".join(str(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    if "anyOf" in prop:
        kinds = [schema_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds) or "null"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {schema_type(prop.get('items', {}))}"
    return {"integer": "int", "number": "number", "string": "text", "boolean": "bool"}.get(
        kind, str(kind)
    )


def param_lines(model: type[JobParams], skip: frozenset[str] = frozenset()) -> list[str]:
    """``key (type, required|default X): description`` per param, by its JSON name."""
    schema = model.model_json_schema(by_alias=True)
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = []
    for key, prop in props.items():
        if key in skip:
            continue
        if key in required:
            state = "required"
        elif prop.get("default") is not None:
            state = f"default {json.dumps(prop['default'])}"
        else:
            state = "optional"
        desc = f": {prop['description']}" if prop.get("description") else ""
        lines.append(f"      {key} ({schema_type(prop)}, {state}){desc}")
    return lines


def job_types_help() -> str:
    """The epilog of ``mediaq enqueue``: one block per declared job type."""
    common = frozenset(JobParams.model_json_schema(by_alias=True).get("properties", {}))
    out = ["job types (class, VRAM, attempts; --param key=value, values read as JSON):"]
    for name in sorted(JOB_TYPES):
        t = JOB_TYPES[name]
        vram = f"{t.vram_required} MiB" if t.vram_required else "no VRAM"
        out.append(f"  {name}: {t.resource_category}, {vram}, {t.max_attempts} attempt(s)")
        out += param_lines(t.params, common) or ["      (no params)"]
    out.append("every type also takes:")
    out += param_lines(JobParams)
    out.append(
        "A GPU type runs on the CPU when MEDIAQ_CPU_ONLY=true (or a GPU-less `mediaq up` said"
        " so); --resource-category overrides both."
    )
    return "\n".join(out)
