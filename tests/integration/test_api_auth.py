"""Auth and CORS: bad tokens get 401, non-admins 403, nothing secret leaks; origins gated."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import jwt
import pytest

from api_shim.app import FEATURE_DISABLED, create_app
from mediaq.errors import ConfigError
from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, live_server, user_headers

ALLOWED = "http://localhost:3000"


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    configured = replace(settings, cors_origins=(ALLOWED, "http://localhost:3010"))
    with live_server(configured) as base, httpx.Client(base_url=base) as http:
        yield http


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tokens(settings: Settings) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "1", "role": "admin", "iat": now, "exp": now + 600}
    return {
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600}, settings.jwt_secret, "HS256"
        ),
        "wrong signature": jwt.encode(claims, "some-other-secret-that-is-long-enough!", "HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "garbage": "not-a-jwt",
        "no exp": jwt.encode({"sub": "1", "role": "admin"}, settings.jwt_secret, "HS256"),
    }


ADMIN_ROUTES = [
    ("GET", "/api/videos"),
    ("GET", "/api/videos/1"),
    ("GET", "/api/admin/media"),
    ("POST", "/api/admin/media/lock"),
    ("GET", "/api/jobs"),
]


@pytest.mark.parametrize("kind", ["expired", "wrong signature", "alg none", "garbage", "no exp"])
def test_bad_tokens_get_401_everywhere_and_leak_nothing(
    settings: Settings, client: httpx.Client, kind: str
) -> None:
    token = _tokens(settings)[kind]
    headers = {"Authorization": f"Bearer {token}"}
    routes = [*ADMIN_ROUTES, ("POST", "/api/reactions"), ("POST", "/api/media/comments")]
    for method, path in routes:
        r = client.request(method, path, headers=headers, json={"ids": [1]})
        assert r.status_code == 401, (kind, path, r.text)
        assert set(r.json()) == {"error"}
        assert settings.jwt_secret not in r.text
        assert "Traceback" not in r.text and "jwt" not in r.text.lower()


def test_non_admin_token_gets_403_on_admin_routes(settings: Settings, client: httpx.Client) -> None:
    for method, path in ADMIN_ROUTES:
        r = client.request(method, path, headers=user_headers(settings), json={"ids": [1]})
        assert (r.status_code, r.json()) == (403, {"error": "Admin role required"}), path
    super_admin = {"Authorization": admin_headers(settings)["Authorization"]}
    assert client.get("/api/videos", headers=super_admin).status_code == 200


def test_unknown_origin_is_refused_and_allowed_origin_gets_credentials(
    client: httpx.Client,
) -> None:
    ok = client.get("/api/reactions/config", headers={"Origin": ALLOWED})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert ok.headers["access-control-allow-credentials"] == "true"
    preflight = client.options(
        "/api/media/public/1/upvote",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-session-id",
        },
    )
    assert preflight.status_code == 200
    assert "x-session-id" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    for method in ("GET", "OPTIONS", "POST"):
        refused = client.request(
            method,
            "/api/media/public",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert (refused.status_code, refused.json()) == (403, {"error": "CORS not allowed"})
        assert "access-control-allow-origin" not in refused.headers
    no_origin = client.get("/api/reactions/config")  # curl, mobile apps: allowed as in the seed
    assert no_origin.status_code == 200


def test_service_refuses_to_start_without_media_features(settings: Settings) -> None:
    with pytest.raises(ConfigError) as info:
        create_app(replace(settings, enable_media_features=False))
    assert "ENABLE_MEDIA_FEATURES" in str(info.value)
    assert str(info.value) == FEATURE_DISABLED


def test_mediaq_api_command_exits_with_a_clear_message_when_features_are_off() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ENABLE_MEDIA_FEATURES"}
    env["ENABLE_MEDIA_FEATURES"] = "false"
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "api", "--port", "4199"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ENABLE_MEDIA_FEATURES" in done.stderr + done.stdout
