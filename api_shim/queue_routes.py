"""Queue controls (admin JWT): pause and resume a resource class or a job type within it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api_shim.auth import require_admin
from api_shim.bodies import PauseBody, read_body
from mediaq import pauses


def _actor(request: Request) -> str:
    user = require_admin(request)
    return f"{user.role} {user.id}"


async def pause_route(request: Request) -> JSONResponse:
    actor = _actor(request)
    job_type = (await read_body(request, PauseBody)).type
    with request.app.state.sessions() as session, session.begin():
        pause = pauses.pause(session, request.path_params["class"], job_type, actor)
    return JSONResponse({"paused": True, "pause": pause.to_json(), "reason": pause.reason()})


async def resume_route(request: Request) -> JSONResponse:
    _actor(request)
    job_type = (await read_body(request, PauseBody)).type
    with request.app.state.sessions() as session, session.begin():
        was_paused = pauses.resume(session, request.path_params["class"], job_type)
    return JSONResponse(
        {
            "paused": False,
            "resourceCategory": request.path_params["class"],
            "type": job_type or None,
            "wasPaused": was_paused,
        }
    )


def list_route(request: Request) -> JSONResponse:
    require_admin(request)
    with request.app.state.sessions() as session:
        return JSONResponse({"pauses": [p.to_json() for p in pauses.load_pauses(session)]})


ROUTES = [
    Route("/api/queues/pauses", list_route, methods=["GET"]),
    Route("/api/queues/{class}/pause", pause_route, methods=["POST"]),
    Route("/api/queues/{class}/resume", resume_route, methods=["POST"]),
]
