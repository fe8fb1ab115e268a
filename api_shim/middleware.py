"""ASGI middleware of the shim: security headers, the CORS origin gate, the body size limit.

The seed refuses a request whose ``Origin`` is not in ``CORS_ORIGINS`` (its CORS origin
callback fails the request); Starlette's ``CORSMiddleware`` would only leave the CORS headers
off. ``OriginGate`` answers such requests, preflights included, with 403
``{"error": "CORS not allowed"}`` before anything runs. Requests without an ``Origin`` (curl,
mobile apps, server-to-server) and same-origin requests pass, as in the seed.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_shim.errors import ApiError

CORS_REFUSED = "CORS not allowed"

# Pages load scripts, styles, images, video and data from this origin only; no inline script,
# no inline style attribute, no plugin, no framing, no <base> rewriting.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # blob: admin thumbnails fetched with the token
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # the largest body of any route (bulk job enqueue)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str | None, allowed: Collection[str], own_origin: str | None) -> bool:
    """The seed's rule: no origin passes, listed origins pass, everything else is refused."""
    if origin is None:
        return True
    return "*" in allowed or origin in allowed or (own_origin is not None and origin == own_origin)


async def send_json(send: Send, status: int, payload: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OriginGate:
    """Refuse requests from origins that are not allowed (before CORS headers are added)."""

    def __init__(self, app: ASGIApp, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = _header(scope, b"origin")
            host = _header(scope, b"host")
            own = f"{scope.get('scheme', 'http')}://{host}" if host else None
            if not origin_allowed(origin, self.allowed, own):
                await send_json(send, 403, {"error": CORS_REFUSED})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Every response carries the strict CSP and its companions (set once, here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {key.lower() for key, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """413 for bodies over ``max_bytes``: by ``Content-Length`` up front, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_json(send, 400, {"error": "invalid Content-Length"})
                return
            if int(declared) > self.max_bytes:
                await send_json(send, 413, {"error": self._message()})
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ApiError.too_large(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body must be at most {self.max_bytes} bytes"
