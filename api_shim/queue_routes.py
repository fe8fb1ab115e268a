"""Queue controls (admin JWT): pause and resume a resource class or a job type within it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from api_shim import answers as a
from api_shim.auth import User
from api_shim.bodies import PauseBody
from api_shim.endpoints import Endpoint, api
from api_shim.queries import ClassPath
from mediaq import pauses


def pause_route(request: Request, path: ClassPath, body: PauseBody, user: User) -> JSONResponse:
    actor, job_type = f"{user.role} {user.id}", body.type
    with request.app.state.sessions() as session, session.begin():
        pause = pauses.pause(session, path.class_, job_type, actor)
    return JSONResponse({"paused": True, "pause": pause.to_json(), "reason": pause.reason()})


def resume_route(request: Request, path: ClassPath, body: PauseBody) -> JSONResponse:
    job_type = body.type
    with request.app.state.sessions() as session, session.begin():
        was_paused = pauses.resume(session, path.class_, job_type)
    return JSONResponse(
        {
            "paused": False,
            "resourceCategory": path.class_,
            "type": job_type or None,
            "wasPaused": was_paused,
        }
    )


def list_route(request: Request) -> JSONResponse:
    with request.app.state.sessions() as session:
        return JSONResponse({"pauses": [p.to_json() for p in pauses.load_pauses(session)]})


def _control(summary: str, ok: type[a.Answer]) -> Endpoint:
    return Endpoint(summary, ok, auth="admin", path=ClassPath, body=PauseBody, body_required=False)


ROUTES = [
    api("/api/queues/pauses", list_route, Endpoint("What is paused", a.Pauses, auth="admin")),
    api(
        "/api/queues/{class}/pause",
        pause_route,
        _control("Pause a class, or one job type in it ({type})", a.Paused),
        "POST",
    ),
    api(
        "/api/queues/{class}/resume",
        resume_route,
        _control("Resume a class, or one job type in it ({type})", a.Resumed),
        "POST",
    ),
]
