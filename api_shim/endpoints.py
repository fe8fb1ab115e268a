"""One declaration per operation: what it is, who may call it, what it reads and answers.

``api(path, handler, Endpoint(...))`` makes the route. Before the handler runs, the route
checks the declared auth (401/403), then validates the path, query and body models (a 400
naming the field), and hands the handler what it asks for by parameter name:

    async def list_media(request, query: GalleryQuery) -> Response
    async def upvote(request, path: IdPath, body: SessionBody) -> Response
    def get_job(request, path: IdPath) -> Response          (sync: run in the threadpool)

A sync handler (SQLAlchemy sessions) never runs on the event loop, so a slow database
stalls only its own request; it is run once more when it failed on a dead pooled
connection before sending a ``COMMIT`` (``api_shim.dbretry``).

``user`` is the caller (``auth`` "user", "admin" or "optional"), ``raw`` the JSON body as sent.
``api_shim.openapi`` builds ``/openapi.json`` from the same declarations.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_shim.auth import optional_user, require_admin, require_user
from api_shim.bodies import json_body, validate
from api_shim.dbretry import run_retrying

Auth = Literal["none", "user", "admin", "optional"]
INPUTS = frozenset({"path", "query", "body", "raw", "user"})
BODY = frozenset({"body", "raw"})  # the validated body, the JSON as sent
SMALL_BODY = 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    summary: str
    ok: Any = None  # the success answer's model (a class or a TypeAdapter)
    status: int = 200
    auth: Auth = "none"
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: Any = None  # the request body's model (a class or a TypeAdapter)
    body_required: bool = True
    max_body: int = SMALL_BODY
    also: Mapping[int, Any] = field(default_factory=dict)  # other success statuses
    files: str | None = None  # a file answer of this media type: 200, 206, 304, 416
    links: tuple[Link, ...] = ()  # operations the success answer leads to


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: the answer gives ``target``'s parameters (runtime expressions, such
    as ``$response.body#/comment/id``). ``target`` is ``"METHOD /path"``."""

    name: str
    target: str
    parameters: Mapping[str, str]


AUTH: dict[Auth, Callable[[Request], Any]] = {
    "user": require_user,
    "admin": require_admin,
    "optional": optional_user,
}


class ApiRoute(Route):
    """A Starlette route carrying its declaration."""

    def __init__(
        self, path: str, handler: Callable[..., Any], spec: Endpoint, methods: list[str]
    ) -> None:
        self.spec = spec
        self.handler = handler
        wants = set(list(inspect.signature(handler).parameters)[1:])  # after the request
        if wants - INPUTS:
            raise TypeError(f"{handler.__name__} asks for unknown inputs {wants - INPUTS}")
        taken = {"path": "path" in wants, "query": "query" in wants, "body": bool(wants & BODY)}
        for name, takes in taken.items():
            if takes != (getattr(spec, name) is not None):
                raise TypeError(f"{handler.__name__}: {name} is not declared as it is taken")
        if "user" in wants and spec.auth == "none":
            raise TypeError(f"{handler.__name__} takes a user but declares no auth")
        super().__init__(path, self._endpoint(handler, wants), methods=methods)

    def _endpoint(
        self, handler: Callable[..., Any], wants: set[str]
    ) -> Callable[[Request], Awaitable[Response]]:
        spec = self.spec
        is_async = inspect.iscoroutinefunction(handler)
        check = AUTH.get(spec.auth)
        reads_body = bool(wants & BODY)

        async def endpoint(request: Request) -> Response:
            given: dict[str, Any] = {}
            if check is not None:
                user = check(request)
                if "user" in wants:
                    given["user"] = user
            if spec.path is not None:
                given["path"] = validate(spec.path, request.path_params)
            if spec.query is not None:
                given["query"] = validate(spec.query, dict(request.query_params))
            if reads_body:
                raw = await json_body(request, spec.max_body)
                if "raw" in wants:
                    given["raw"] = raw
                if "body" in wants:
                    given["body"] = validate(spec.body, raw)
            if is_async:
                result: Response = await handler(request, **given)
            else:
                result = await run_in_threadpool(partial(run_retrying, handler, request, **given))
            return result

        return endpoint


def api(path: str, handler: Callable[..., Any], spec: Endpoint, *methods: str) -> ApiRoute:
    """The route of one declared operation (``methods`` default to GET; HEAD comes with GET)."""
    return ApiRoute(path, handler, spec, list(methods or ("GET",)))
