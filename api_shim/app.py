"""The Starlette application: routes, CORS, error mapping, shared state."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from api_shim import jobs_routes
from api_shim.errors import EXCEPTION_HANDLERS
from mediaq.db import session_factory
from mediaq.errors import ConfigError
from mediaq.settings import Settings

FEATURE_DISABLED = (
    "ENABLE_MEDIA_FEATURES is not true: the media API is opt-in. "
    "Set ENABLE_MEDIA_FEATURES=true to start it."
)


def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "mediaq"})


def routes() -> list[BaseRoute]:
    """Every route of the shim; route modules contribute their ``ROUTES`` lists."""
    return [
        Route("/health", health, methods=["GET"]),
        *jobs_routes.ROUTES,
    ]


def create_app(settings: Settings) -> Starlette:
    """The API app; refuses to exist unless media features are enabled."""
    if not settings.enable_media_features:
        raise ConfigError(FEATURE_DISABLED)
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE", "PATCH", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    ]
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.sessions = session_factory(settings.database_url)
    return app
