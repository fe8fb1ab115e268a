"""JSON Schema as pydantic writes it, turned into the OpenAPI 3.0 dialect (pure)."""

from __future__ import annotations

from typing import Any


def to_openapi30(node: Any) -> Any:
    """JSON Schema (as pydantic writes it) to the OpenAPI 3.0 dialect: ``nullable`` for a
    null alternative, ``enum`` for ``const``, ``example`` for ``examples``."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: to_openapi30(v) for k, v in node.items() if k != "title"}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        node.pop("anyOf")
        inner = rest[0] if len(rest) == 1 else {"anyOf": rest}
        if "$ref" in inner:
            inner = {"allOf": [inner]}
        node = {**inner, **node, "nullable": True}
        if node.get("default", 0) is None:
            node.pop("default")
    if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "examples" in node:
        node["example"] = node.pop("examples")[0]
    if "exclusiveMinimum" in node and not isinstance(node["exclusiveMinimum"], bool):
        node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
    if "exclusiveMaximum" in node and not isinstance(node["exclusiveMaximum"], bool):
        node["maximum"], node["exclusiveMaximum"] = node["exclusiveMaximum"], True
    return node
