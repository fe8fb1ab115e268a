"""Schedules (admin JWT): ``POST/GET /api/schedules``, ``GET/DELETE /api/schedules/{name}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api_shim.auth import require_admin
from api_shim.errors import ApiError
from api_shim.params import json_body
from mediaq import schedules


async def create_route(request: Request) -> JSONResponse:
    require_admin(request)
    body = await json_body(request, max_bytes=1024 * 1024)  # a job's params may be long
    spec = schedules.parse_spec(body)
    with request.app.state.sessions() as session:
        with session.begin():
            created = schedules.create(session, spec)
        if not created:
            raise ApiError(409, f"a schedule named {spec.name!r} exists; delete it first")
        return JSONResponse({"schedule": schedules.get(session, spec.name)}, status_code=201)


def list_route(request: Request) -> JSONResponse:
    require_admin(request)
    with request.app.state.sessions() as session:
        return JSONResponse({"schedules": schedules.list_all(session)})


def get_route(request: Request) -> JSONResponse:
    require_admin(request)
    name = request.path_params["name"]
    with request.app.state.sessions() as session:
        found = schedules.get(session, name)
        if found is None:
            raise ApiError(404, "Schedule not found")
        return JSONResponse({"schedule": found, "runs": schedules.runs(session, name)})


def delete_route(request: Request) -> JSONResponse:
    require_admin(request)
    name = request.path_params["name"]
    with request.app.state.sessions() as session, session.begin():
        if not schedules.delete(session, name):
            raise ApiError(404, "Schedule not found")
    return JSONResponse({"deleted": name})


ROUTES = [
    Route("/api/schedules", create_route, methods=["POST"]),
    Route("/api/schedules", list_route, methods=["GET"]),
    Route("/api/schedules/{name}", get_route, methods=["GET"]),
    Route("/api/schedules/{name}", delete_route, methods=["DELETE"]),
]
