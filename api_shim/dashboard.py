"""The queue dashboard: one static page (HTML + a little JavaScript) and its JSON feed.

``GET /admin/queue`` serves the page and ``/admin/static/*`` its script and styles; they hold
no data and no secret, so they need no auth. The page reads ``GET /api/dashboard/queue``
(admin JWT, like the job API) every two seconds with the token the operator gave it once:
in the URL fragment (``/admin/queue#token=...``, which browsers never send to a server) or
pasted into its form. The script keeps it in the browser's localStorage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api_shim import answers as a
from api_shim.endpoints import Endpoint, api
from api_shim.queries import Params, page_size
from mediaq.jsonfmt import iso
from mediaq.queueview import queue_overview
from mediaq.settings import RESOURCE_CLASSES, Settings

STATIC_DIR = Path(__file__).parent / "static"
PENDING_PER_CLASS = 50
RUNNING_LIMIT = 200


def page(_: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "dashboard.html", headers={"Cache-Control": "no-cache"})


def to_page(_: Request) -> RedirectResponse:
    return RedirectResponse("/admin/queue", status_code=307)


class DashboardQuery(Params):
    limit: page_size(500) = PENDING_PER_CLASS  # type: ignore[valid-type]


def dashboard_data(request: Request, query: DashboardQuery) -> JSONResponse:
    """Everything the page shows, read in one snapshot transaction."""
    limit = query.limit
    settings: Settings = request.app.state.settings
    with request.app.state.sessions() as session, session.begin():
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        overview = queue_overview(session, settings)
        conn = session.connection()
        now = conn.execute(text("SELECT now()")).scalar_one()
        body: dict[str, Any] = {
            "generatedAt": iso(now),
            **overview,
            "pending": pending_heads(conn, limit),
            "active": active_jobs(conn),
        }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def pending_heads(conn: Connection, limit: int) -> dict[str, list[dict[str, Any]]]:
    """Per class, the first ``limit`` pending jobs in exact admission order with positions."""
    out: dict[str, list[dict[str, Any]]] = {}
    for class_name in RESOURCE_CLASSES:
        rows = conn.execute(
            text(
                """
                SELECT id, type, priority, created_at, vram_required, waiting_code,
                       waiting_reason, held, not_before
                  FROM jobs
                 WHERE status = 'pending' AND resource_category = :c
                 ORDER BY priority DESC, created_at, id
                 LIMIT :limit
                """
            ),
            {"c": class_name, "limit": limit},
        ).all()
        out[class_name] = [
            {
                "id": r.id,
                "type": r.type,
                "position": position,
                "priority": r.priority,
                "createdAt": iso(r.created_at),
                "vramRequired": r.vram_required,
                "waitingCode": r.waiting_code,
                "waitingReason": r.waiting_reason,
                "held": r.held,
                "notBefore": iso(r.not_before),
            }
            for position, r in enumerate(rows, start=1)
        ]
    return out


def active_jobs(conn: Connection) -> list[dict[str, Any]]:
    """Queued and running jobs, running first, with progress and placement."""
    rows = conn.execute(
        text(
            """
            SELECT id, type, status, resource_category, progress, assigned_host, assigned_gpu,
                   vram_required, attempt, started_at, queued_at, heartbeat_at
              FROM jobs
             WHERE status IN ('queued', 'running')
             ORDER BY status DESC, coalesce(started_at, queued_at), id
             LIMIT :limit
            """
        ),
        {"limit": RUNNING_LIMIT},
    ).all()
    return [
        {
            "id": r.id,
            "type": r.type,
            "status": r.status,
            "resourceCategory": r.resource_category,
            "progress": r.progress,
            "assignedHost": r.assigned_host,
            "assignedGpu": r.assigned_gpu,
            "vramRequired": r.vram_required,
            "attempt": r.attempt,
            "startedAt": iso(r.started_at),
            "queuedAt": iso(r.queued_at),
            "heartbeatAt": iso(r.heartbeat_at),
        }
        for r in rows
    ]


ROUTES: list[BaseRoute] = [
    Route("/admin", to_page, methods=["GET"], include_in_schema=False),
    Route("/admin/queue", page, methods=["GET"], include_in_schema=False),
    api(
        "/api/dashboard/queue",
        dashboard_data,
        Endpoint(
            "The queue dashboard's feed: overview, pending heads, active jobs (admin)",
            a.Dashboard,
            auth="admin",
            query=DashboardQuery,
        ),
    ),
    Mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
