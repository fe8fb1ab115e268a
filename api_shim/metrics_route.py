"""``GET /metrics``: the fleet's Prometheus metrics, read from PostgreSQL and Redis per scrape.

Unauthenticated, as Prometheus scrapers expect: it reveals counts, host names and GPU
memory, never job parameters or logs. Keep port 4100 off the public internet or filter
``/metrics`` at the proxy (docs/operations.md).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mediaq.db import engine_for
from mediaq.metrics import read_snapshot, redis_client, render
from mediaq.settings import Settings


def metrics(request: Request) -> Response:
    """One scrape (a sync endpoint: Starlette runs it in its thread pool)."""
    settings: Settings = request.app.state.settings
    with engine_for(settings.database_url).connect() as conn:
        snap = read_snapshot(conn, settings, redis_client(settings.redis_url))
    return Response(render(snap), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics, methods=["GET"], include_in_schema=False)]
