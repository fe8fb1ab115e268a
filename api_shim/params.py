"""Parsing and validating request input: query integers, enums, JSON bodies.

Every failure is an ApiError(400, ...) with a sentence naming the field, so bad input
never reaches the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from starlette.requests import Request

from api_shim.errors import ApiError
from mediaq.jobparams import INT32_MAX

__all__ = ["INT32_MAX"]  # the routes' bound for ids and offsets, from the core

MAX_BODY_BYTES = 64 * 1024
INTEGER = re.compile(r"-?[0-9]{1,20}")


def query_int(
    request: Request,
    name: str,
    default: int,
    minimum: int = 0,
    maximum: int = INT32_MAX,
    cap: int | None = None,
) -> int:
    """An integer query parameter within [minimum, maximum]; ``cap`` (a page size's) clamps."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not INTEGER.fullmatch(raw):
        raise ApiError(400, f"{name} must be an integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}")
    return value if cap is None else min(value, cap)


def query_choice(
    request: Request, name: str, choices: Collection[str], default: str | None
) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ApiError(400, f"{name} must be one of: {', '.join(sorted(choices))}")
    return raw


def path_id(request: Request, name: str = "id") -> int:
    """A positive integer path parameter that fits PostgreSQL's integer."""
    raw = request.path_params.get(name)
    try:
        value = int(str(raw))
    except ValueError:
        raise ApiError(400, f"{name} must be a positive integer") from None
    if not 1 <= value <= INT32_MAX:
        raise ApiError(400, f"{name} must be a positive integer")
    return value


async def json_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object body, size-limited."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise ApiError(413, f"request body must be at most {max_bytes} bytes")
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"request body must be at most {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "body must be valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def body_int(
    body: Mapping[str, Any],
    name: str,
    default: int | None = None,
    minimum: int = -INT32_MAX,
    maximum: int = INT32_MAX,
    required: bool = False,
) -> int | None:
    """An integer field of a JSON body (booleans and floats refused)."""
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}")
    return value


def body_str(
    body: Mapping[str, Any],
    name: str,
    required: bool = False,
    max_length: int = 1000,
) -> str | None:
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return None
    value = body[name]
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if required and not value.strip():
        raise ApiError(400, f"{name} is required")
    if len(value) > max_length:
        raise ApiError(400, f"{name} must be at most {max_length} characters")
    if "\x00" in value:
        raise ApiError(400, f"{name} must not contain NUL characters")
    return value


def query_str(request: Request, name: str, max_length: int = 200) -> str | None:
    """A text query parameter: empty means absent; NUL bytes and overlong values refused."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise ApiError(400, f"{name} must be at most {max_length} characters")
    if "\x00" in raw:
        raise ApiError(400, f"{name} must not contain NUL characters")
    return raw


def like_pattern(term: str) -> str:
    r"""``%term%`` for ``ILIKE ... ESCAPE '\'`` with ``%``, ``_`` and ``\`` matched literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
