"""``GET /openapi.json``: the OpenAPI 3.0 document, generated from the route table.

Every ``ApiRoute`` (``api_shim.endpoints``) carries its declaration; its path, query and body
models and its answer models give the parameters, the request body and the responses, through
pydantic's JSON Schema (``ref_template`` points nested models at ``components``). Nothing
here names an endpoint: a route that is declared is documented. Routes that are not API
operations (pages, static files, ``/metrics``) are plain routes and stay out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from api_shim.answers import Document, Error
from api_shim.endpoints import ApiRoute, Endpoint, Link, api
from api_shim.jsonschema30 import to_openapi30

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
BEARER = "bearer"
SECURITY: dict[str, list[Schema]] = {
    "user": [{BEARER: []}],
    "admin": [{BEARER: []}],
    "optional": [{}, {BEARER: []}],
}
INFO = {
    "title": "mediaq HTTP API",
    "version": "1.0.0",
    "description": "The seed's media API (gallery, reactions, comments, admin library) plus the "
    'job API. Errors are always {"error": "..."}.',
}


class Components:
    """``components.schemas``, filled as models are referenced (one name, one schema)."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}

    def add(self, name: str, schema: Schema) -> None:
        if self.schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different models are both named {name!r}")

    def schema(self, model: Any) -> Schema:
        """The schema of a model class or TypeAdapter; a class becomes a ``$ref``."""
        adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        schema = adapter.json_schema(ref_template=REF, by_alias=True)
        for name, nested in schema.pop("$defs", {}).items():
            self.add(name, to_openapi30(nested))
        converted: Schema = to_openapi30(schema)
        if isinstance(model, type) and issubclass(model, BaseModel):
            self.add(model.__name__, converted)
            return {"$ref": REF.format(model=model.__name__)}
        return converted


def parameters(model: type[BaseModel] | None, where: str) -> list[Schema]:
    """One parameter per field of a path or query model, with its limits and enums."""
    if model is None:
        return []
    properties = model.model_json_schema(by_alias=True)["properties"]
    blank: frozenset[str] = getattr(model, "BLANK_IS_ABSENT", frozenset())
    found = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        schema = to_openapi30(properties[alias])
        schema.pop("nullable", None)  # a parameter is absent, never null
        description = schema.pop("description", "")
        if "enum" in schema:
            schema["enum"] = [v for v in schema["enum"] if v is not None]
            if where == "query" and alias in blank:  # an empty choice means "not given"
                schema["enum"].append("")
        param = {"name": alias, "in": where, "required": where == "path" or field.is_required()}
        found.append(
            {**param, "schema": schema, **({"description": description} if description else {})}
        )
    return found


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def file_responses(media_type: str, error: Schema) -> Schema:
    binary = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {
        "200": {"description": "the whole file", "content": binary},
        "206": {"description": "the requested byte range", "content": binary},
        "304": {"description": "not modified (If-None-Match / If-Modified-Since)"},
        "416": {"description": "range not satisfiable", **json_content(error)},
    }


RANGE = {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}}


def link_of(link: Link) -> Schema:
    """``operationRef`` is a JSON pointer into this document's paths."""
    method, path = link.target.split(" ", 1)
    pointer = template(path).replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "parameters": link.parameters}


def operation(spec: Endpoint, components: Components) -> Schema:
    error = components.schema(Error)
    op: Schema = {"summary": spec.summary}
    params = parameters(spec.path, "path") + parameters(spec.query, "query")
    if spec.files is not None:
        params.append(RANGE)
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": spec.body_required,
            **json_content(components.schema(spec.body)),
        }
    if spec.files is not None:
        responses = file_responses(spec.files, error)
    else:
        responses = {
            str(status): {"description": "success", **json_content(components.schema(model))}
            for status, model in {spec.status: spec.ok, **spec.also}.items()
        }
    if spec.links:
        responses[str(spec.status)]["links"] = {link.name: link_of(link) for link in spec.links}
    responses["default"] = {"description": 'an error: {"error": "..."}', **json_content(error)}
    op["responses"] = responses
    if spec.auth in SECURITY:
        op["security"] = SECURITY[spec.auth]
    return op


def template(path: str) -> str:
    """``/api/jobs/{id:int}`` as OpenAPI writes it: ``/api/jobs/{id}``."""
    return re.sub(r":\w+}", "}", path)


def document(routes: Iterable[BaseRoute]) -> Schema:
    """The whole document for a route table."""
    components = Components()
    paths: dict[str, Schema] = {}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        item = paths.setdefault(template(route.path), {})
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                item[method.lower()] = operation(route.spec, components)
    return {
        "openapi": "3.0.3",
        "info": INFO,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def serve_openapi(request: Request) -> JSONResponse:
    state = request.app.state
    if getattr(state, "openapi", None) is None:  # built once per app
        state.openapi = document(request.app.routes)
    return JSONResponse(state.openapi)


ROUTES = [api("/openapi.json", serve_openapi, Endpoint("This document", Document))]
