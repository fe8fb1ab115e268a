"""JWT auth (PyJWT, HS256): required, admin-only and optional.

Claims: ``sub`` (user id) and ``role``. Expired, unsigned (``alg: none``) or wrongly signed
tokens get 401; a valid token without an admin role on an admin route gets 403. The secret
never appears in a response or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from starlette.requests import Request

from api_shim.errors import ApiError
from mediaq.settings import Settings

ALGORITHMS = ["HS256"]


@dataclass(frozen=True)
class User:
    id: int
    role: str


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError.unauthorized("Invalid authorization header")
    return token.strip()


def decode_user(token: str, settings: Settings) -> User:
    """Verify a token and return its user, or raise a 401 ApiError."""
    if not settings.jwt_secret:
        raise ApiError.unauthorized("Authentication is not configured")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=ALGORITHMS,
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise ApiError.unauthorized("Token expired") from None
    except jwt.InvalidTokenError:
        raise ApiError.unauthorized("Invalid token") from None
    sub = claims.get("sub")
    try:
        user_id = int(str(sub))
    except (TypeError, ValueError):
        raise ApiError.unauthorized("Invalid token") from None
    role = claims.get("role")
    return User(id=user_id, role=role if isinstance(role, str) else "user")


def require_user(request: Request) -> User:
    token = _bearer(request)
    if token is None:
        raise ApiError.unauthorized("Authentication required")
    return decode_user(token, request.app.state.settings)


def require_admin(request: Request) -> User:
    user = require_user(request)
    if user.role not in request.app.state.settings.admin_roles:
        raise ApiError.forbidden("Admin role required")
    return user


def optional_user(request: Request) -> User | None:
    token = _bearer(request)
    if token is None:
        return None
    return decode_user(token, request.app.state.settings)


def mint_token(settings: Settings, user_id: int, role: str, ttl_s: int = 3600) -> str:
    """A signed token for local use (``mediaq token``) and for tests."""
    import time

    now = int(time.time())
    payload = {"sub": str(user_id), "role": role, "iat": now, "exp": now + ttl_s}
    return jwt.encode(payload, settings.jwt_secret, algorithm="HS256")
