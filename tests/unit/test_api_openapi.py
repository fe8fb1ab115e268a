"""The OpenAPI document is generated from the route table: every route of the app is either a
declared operation or explicitly left out, every declaration is a route, every reference
resolves, and the gallery's schema is the SQL field list's own."""

from __future__ import annotations

import json
import re
from typing import Any, get_type_hints

import pytest
from starlette.routing import Mount, Route

from api_shim import answers
from api_shim.app import routes
from api_shim.endpoints import ApiRoute, Endpoint, api
from api_shim.mediajson import GALLERY_ITEM, MEDIA_DETAIL
from api_shim.openapi import document, template
from api_shim.queries import IdPath


def doc() -> dict[str, Any]:
    return document(routes())


def test_every_route_is_declared_or_left_out_and_every_declaration_is_documented() -> None:
    paths = doc()["paths"]
    declared = 0
    for route in routes():
        if isinstance(route, Mount):  # static files
            continue
        assert isinstance(route, Route), route
        if not isinstance(route, ApiRoute):
            assert route.include_in_schema is False, f"{route.path} has no declaration"
            continue
        declared += 1
        operations = paths[template(route.path)]
        for method in route.methods or ():
            assert method == "HEAD" or method.lower() in operations, (method, route.path)
    documented = sum(len(item) for item in paths.values())
    api_methods = sum(
        len((r.methods or set()) - {"HEAD"}) for r in routes() if isinstance(r, ApiRoute)
    )
    assert documented == api_methods and declared >= 40


def test_each_handler_takes_exactly_the_models_its_declaration_names() -> None:
    for route in routes():
        if not isinstance(route, ApiRoute):
            continue
        hints = get_type_hints(route.handler)
        for name in ("path", "query", "body"):
            if name in hints:
                assert hints[name] is getattr(route.spec, name), (route.path, name)
        params = set(re.findall(r"{(\w+)", route.path))
        fields = {f.alias or n for n, f in (route.spec.path or IdPath).model_fields.items()}
        assert params == (fields if route.spec.path else set()), route.path


def test_a_handler_taking_an_undeclared_input_is_refused_at_import() -> None:
    async def handler(request: Any, path: IdPath) -> Any: ...

    with pytest.raises(TypeError, match="path is not declared"):
        api("/x/{id}", handler, Endpoint("x", answers.Health))


def test_every_reference_resolves_and_every_operation_documents_errors() -> None:
    document_ = doc()
    text = json.dumps(document_)
    for name in re.findall(r'"#/components/schemas/(\w+)"', text):
        assert name in document_["components"]["schemas"], name
    for path, item in document_["paths"].items():
        for method, operation in item.items():
            assert "default" in operation["responses"], (method, path)
            assert operation["summary"], (method, path)


def test_the_gallery_schema_has_exactly_the_keys_the_sql_builds() -> None:
    schemas = doc()["components"]["schemas"]
    for shape in (GALLERY_ITEM, MEDIA_DETAIL):
        keys = re.findall(r"(?:\(|, )'(\w+)', ", shape.sql)
        assert list(schemas[shape.name]["properties"]) == keys
        assert schemas[shape.name]["required"] == keys
        assert schemas[shape.name]["additionalProperties"] is False


def test_query_limits_and_enums_come_from_the_models() -> None:
    operation = doc()["paths"]["/api/media/public"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["offset"]["schema"]["maximum"] == 2**31 - 1
    assert params["sort"]["schema"]["enum"] == ["recent", "popular", "most_viewed", ""]
    assert params["search"]["schema"]["maxLength"] == 200
    assert not any(p["required"] for p in params.values())
    comments = doc()["paths"]["/api/media/comments"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in comments}["mediaId"] is True


def test_the_document_is_a_valid_openapi_3_document() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(doc())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40


def test_every_link_leads_to_an_operation_and_names_its_path_parameters() -> None:
    document_ = doc()
    found = 0
    for item in document_["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                for link in response.get("links", {}).values():
                    _, path, method = link["operationRef"].rsplit("/", 2)
                    target = document_["paths"][path.replace("~1", "/").replace("~0", "~")]
                    wanted = {p["name"] for p in target[method]["parameters"] if p["in"] == "path"}
                    assert set(link["parameters"]) == wanted, link
                    found += 1
    assert found >= 8
