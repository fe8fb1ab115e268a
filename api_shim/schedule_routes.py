"""Schedules (admin JWT): ``POST/GET /api/schedules``, ``GET/DELETE /api/schedules/{name}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.bodies import ScheduleBody
from api_shim.endpoints import Endpoint, Link, api
from api_shim.errors import ApiError
from api_shim.queries import NamePath
from mediaq import schedules


def create_route(request: Request, body: ScheduleBody, raw: dict[str, Any]) -> JSONResponse:
    spec = schedules.parse_spec(raw)  # the body's shape is checked; the core checks the rule
    with request.app.state.sessions() as session:
        with session.begin():
            created = schedules.create(session, spec)
        if not created:
            raise ApiError.conflict(f"a schedule named {spec.name!r} exists; delete it first")
        return JSONResponse({"schedule": schedules.get(session, spec.name)}, status_code=201)


def list_route(request: Request) -> JSONResponse:
    with request.app.state.sessions() as session:
        return JSONResponse({"schedules": schedules.list_all(session)})


def get_route(request: Request, path: NamePath) -> JSONResponse:
    with request.app.state.sessions() as session:
        found = schedules.get(session, path.name)
        if found is None:
            raise ApiError.not_found("Schedule not found")
        return JSONResponse({"schedule": found, "runs": schedules.runs(session, path.name)})


def delete_route(request: Request, path: NamePath) -> JSONResponse:
    with request.app.state.sessions() as session, session.begin():
        if not schedules.delete(session, path.name):
            raise ApiError.not_found("Schedule not found")
    return JSONResponse({"deleted": path.name})


NAME = {"name": "$response.body#/schedule/name"}


def _admin(summary: str, ok: Any, **more: Any) -> Endpoint:
    return Endpoint(summary, ok, auth="admin", **more)


ROUTES = [
    api(
        "/api/schedules",
        create_route,
        _admin(
            "Add a schedule (cron or everySeconds): one job per due slot; 409 when the name exists",
            a.ScheduleAnswer,
            status=201,
            body=ScheduleBody,
            max_body=1024 * 1024,  # a job's params may be long
            links=(
                Link("get", "GET /api/schedules/{name}", NAME),
                Link("delete", "DELETE /api/schedules/{name}", NAME),
            ),
        ),
        "POST",
    ),
    api("/api/schedules", list_route, _admin("List schedules", a.Schedules)),
    api(
        "/api/schedules/{name}",
        get_route,
        _admin("One schedule and its latest slots", a.ScheduleDetail, path=NamePath),
    ),
    api(
        "/api/schedules/{name}",
        delete_route,
        _admin("Delete a schedule", a.ScheduleDeleted, path=NamePath),
        "DELETE",
    ),
]
