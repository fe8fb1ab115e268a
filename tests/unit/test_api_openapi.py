"""The OpenAPI document: valid, every route of the shim described, every reference resolvable."""

from __future__ import annotations

import json
import re

from starlette.routing import Route

from api_shim import (
    admin_media_routes,
    comments_routes,
    jobs_routes,
    public_media_routes,
    reactions_routes,
    stream_routes,
    videos_routes,
)
from api_shim.openapi import openapi_document

MODULES = [
    videos_routes,
    public_media_routes,
    reactions_routes,
    comments_routes,
    admin_media_routes,
    jobs_routes,
    stream_routes,
]


def test_every_route_and_method_is_described() -> None:
    paths = openapi_document()["paths"]
    for module in MODULES:
        for route in module.ROUTES:
            assert isinstance(route, Route)
            path = re.sub(r":\w+}", "}", route.path)  # {id:int} is documented as {id}
            assert path in paths, route.path
            for method in route.methods or ():
                if method == "HEAD":
                    continue
                assert method.lower() in paths[path], (method, route.path)


def test_every_reference_resolves_and_every_operation_documents_errors() -> None:
    doc = openapi_document()
    text = json.dumps(doc)
    for name in re.findall(r'"#/components/schemas/(\w+)"', text):
        assert name in doc["components"]["schemas"], name
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "default" in operation["responses"], (method, path)
            assert operation["summary"], (method, path)


def test_the_document_is_a_valid_openapi_3_document() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
