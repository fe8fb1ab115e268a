"""``mediaq enqueue --help``: every job type and its params, from the job type declarations."""

from __future__ import annotations

from typing import Any

from mediaq.jobtypes import JOB_TYPES


def _param_lines(model: Any) -> list[str]:
    """``name (type, required)`` per field of a pydantic params model, by its JSON name."""
    lines = []
    for name, info in getattr(model, "model_fields", {}).items():
        key = info.alias or name
        kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
        kind = kind.replace("typing.", "")
        if info.is_required():
            state = "required"
        else:
            default = info.get_default(call_default_factory=True)
            state = "optional" if default is None else f"default {default!r}"
        desc = f": {info.description}" if info.description else ""
        lines.append(f"      {key} ({kind}, {state}){desc}")
    return lines


def job_types_help() -> str:
    """The epilog of ``mediaq enqueue``: one block per declared job type."""
    out = ["job types (class, VRAM, attempts; params as --param key=value, values read as JSON):"]
    for name in sorted(JOB_TYPES):
        t = JOB_TYPES[name]
        vram = f"{t.vram_required} MiB" if t.vram_required else "no VRAM"
        out.append(f"  {name}: {t.resource_category}, {vram}, {t.max_attempts} attempt(s)")
        out += _param_lines(getattr(t, "params", None)) or ["      (params not declared)"]
    out.append(
        "A GPU type runs on the CPU when MEDIAQ_CPU_ONLY=true (or a GPU-less `mediaq up` said"
        " so); --resource-category overrides both."
    )
    return "\n".join(out)
