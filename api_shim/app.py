"""The Starlette application: routes, CORS, error mapping, shared state."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api_shim import (
    admin_media_routes,
    admin_pages,
    bulk_routes,
    comments_routes,
    dashboard,
    jobs_routes,
    library_routes,
    metrics_route,
    openapi,
    pages,
    public_media_routes,
    public_pages,
    queue_routes,
    reactions_routes,
    schedule_routes,
    shared_media_routes,
    stream_routes,
    videos_routes,
)
from api_shim.answers import Health
from api_shim.dbretry import track_commits
from api_shim.endpoints import Endpoint, api
from api_shim.errors import EXCEPTION_HANDLERS
from api_shim.middleware import BodyLimit, OriginGate, SecurityHeaders
from api_shim.resources import lifespan
from mediaq.db import session_factory
from mediaq.errors import ConfigError
from mediaq.settings import Settings

FEATURE_DISABLED = (
    "ENABLE_MEDIA_FEATURES is not true: the media API is opt-in. "
    "Set ENABLE_MEDIA_FEATURES=true to start it."
)


def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "mediaq"})


HEALTH = api("/health", health, Endpoint("Liveness", Health))


def routes() -> list[BaseRoute]:
    """Every route of the shim; route modules contribute their ``ROUTES`` lists."""
    return [
        HEALTH,
        *bulk_routes.ROUTES,
        *admin_pages.ROUTES,
        *library_routes.ROUTES,
        *shared_media_routes.ROUTES,
        *jobs_routes.ROUTES,
        *queue_routes.ROUTES,
        *schedule_routes.ROUTES,
        *metrics_route.ROUTES,
        *dashboard.ROUTES,
        *videos_routes.ROUTES,
        *public_media_routes.ROUTES,
        *stream_routes.ROUTES,
        *reactions_routes.ROUTES,
        *comments_routes.ROUTES,
        *admin_media_routes.ROUTES,
        *openapi.ROUTES,
        *pages.ROUTES,
        *public_pages.ROUTES,
    ]


def create_app(settings: Settings) -> Starlette:
    """The API app; refuses to exist unless media features are enabled."""
    if not settings.enable_media_features:
        raise ConfigError(FEATURE_DISABLED)
    middleware = [
        # First: behind a trusted proxy the client is the one it names in X-Forwarded-For;
        # from anyone else that header is ignored (the server runs with proxy_headers off).
        *(
            [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))]
            if settings.trusted_proxies
            else []
        ),
        Middleware(SecurityHeaders),
        # Then: unknown origins and oversized bodies are refused before anything runs.
        Middleware(OriginGate, allowed=settings.cors_origins),
        Middleware(BodyLimit),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE", "PATCH", "OPTIONS"],
            # X-Session-Id identifies an anonymous viewer (views, upvotes, finish)
            allow_headers=["Authorization", "Content-Type", "X-Session-Id"],
            # a page on another origin may read when to try again after a 429
            expose_headers=["Retry-After"],
        ),
    ]
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = track_commits(session_factory(settings.database_url))
    return app
