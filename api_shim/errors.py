"""Where errors become HTTP responses: always ``{"error": "..."}``, never a stack trace."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mediaq.errors import Conflict, NotFound, ValidationError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its HTTP status; the message is safe to show to the caller."""

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers  # e.g. Retry-After on a 429


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


async def api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.message, exc.headers)


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "Request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "Not found"
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def domain_error(_: Request, exc: Exception) -> Response:
    if isinstance(exc, NotFound):
        return error_response(404, str(exc) or "Not found")
    if isinstance(exc, Conflict):
        return error_response(409, str(exc))
    return error_response(400, str(exc))


async def unavailable(request: Request, exc: Exception) -> Response:
    # A database or Redis outage is the service's state, not the caller's fault nor a bug.
    log.warning("service unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "Service unavailable")


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    ValidationError: domain_error,
    NotFound: domain_error,
    Conflict: domain_error,
    psycopg.OperationalError: unavailable,
    PoolTimeout: unavailable,
    RedisConnectionError: unavailable,
    RedisTimeoutError: unavailable,
    Exception: unexpected_error,
}
