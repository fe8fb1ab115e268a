"""Where errors become HTTP responses: always ``{"error": "..."}``, never a stack trace."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ExceptionHandler

from mediaq.errors import Conflict, NotFound, ValidationError

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """The one HTTP error type: a status and a message safe to show to the caller.

    Starlette's own 404/405 are ``HTTPException`` too, so one handler maps both. Raise it
    through the named constructors (``ApiError.not_found("Media not found")``).
    """

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message, headers)

    @property
    def message(self) -> str:
        return self.detail

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, message)

    @classmethod
    def unauthorized(cls, message: str) -> ApiError:
        return cls(401, message)

    @classmethod
    def forbidden(cls, message: str) -> ApiError:
        return cls(403, message)

    @classmethod
    def not_found(cls, message: str) -> ApiError:
        return cls(404, message)

    @classmethod
    def conflict(cls, message: str) -> ApiError:
        return cls(409, message)

    @classmethod
    def too_large(cls, message: str) -> ApiError:
        return cls(413, message)

    @classmethod
    def too_many(cls, message: str, retry_after_s: int) -> ApiError:
        return cls(429, message, {"Retry-After": str(retry_after_s)})


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Every ``HTTPException`` (``ApiError`` included) as ``{"error": "..."}``."""
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "Request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "Not found"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, message, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (a path may have one route per method).

    A literal path (``/api/jobs/bulk``) is answered by its own routes only, not by a
    parameter route it also happens to match (``/api/jobs/{id}``)."""
    literal: set[str] = set()
    templated: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            into = templated if getattr(route, "param_convertors", None) else literal
            into |= set(getattr(route, "methods", None) or ())
    return sorted(literal or templated)


# The core's errors and the HTTP status each one is.
DOMAIN_STATUS: dict[type[Exception], int] = {ValidationError: 400, NotFound: 404, Conflict: 409}


async def domain_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in DOMAIN_STATUS.items() if isinstance(exc, kind))
    return await http_error(request, ApiError(status, str(exc) or "Not found"))


RETRY_AFTER_S = 2


def outage_dependency(exc: BaseException) -> str | None:
    """``database`` or ``redis`` when ``exc`` is that service being away, else None.

    SQLAlchemy wraps psycopg's errors: an ``OperationalError`` (server restarted, refused,
    timed out), a pool timeout, or any error on a connection it recognised as dead.
    """
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return "redis"
    if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
        return "database"
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return "database"
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return "database"
    return None


async def unavailable(request: Request, exc: Exception) -> Response:
    # A database or Redis outage is the service's state, not the caller's fault nor a bug:
    # 503 naming the dependency, never a stack trace (the detail stays in the server log).
    dependency = outage_dependency(exc)
    if dependency is None:
        return await unexpected_error(request, exc)
    log.warning(
        "%s unavailable on %s %s: %s",
        dependency,
        request.method,
        request.url.path,
        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
    )
    if dependency == "database":  # the writes' own pooled connections may be dead too
        resources = getattr(request.app.state, "resources", None)
        if resources is not None:
            await resources.purge_dead_connections()
    response = error_response(503, f"Service unavailable: the {dependency} is not reachable")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    HTTPException: http_error,
    **dict.fromkeys(DOMAIN_STATUS, domain_error),
    psycopg.OperationalError: unavailable,
    PoolTimeout: unavailable,
    sa_exc.DBAPIError: unavailable,  # OperationalError, InterfaceError, dead connections
    sa_exc.TimeoutError: unavailable,
    RedisConnectionError: unavailable,
    RedisTimeoutError: unavailable,
    Exception: unexpected_error,
}
