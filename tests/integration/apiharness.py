"""Helpers of the API tests: the app under a real server or a TestClient, rows, tokens.

``live_server`` runs uvicorn in a thread on a free loopback port (the app's lifespan opens its
pool inside that loop), for concurrency and Schemathesis runs; contract tests use Starlette's
``TestClient`` as a context manager so the lifespan runs too.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import uvicorn
from starlette.applications import Starlette

from api_shim.app import create_app
from api_shim.auth import mint_token
from api_shim.resources import plain_conninfo
from mediaq.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(settings: Settings, app: Starlette | None = None) -> Iterator[str]:
    """A real uvicorn server for ``settings``; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(plain_conninfo(settings.database_url), autocommit=True)


def insert_media(settings: Settings, count: int = 1, **columns: Any) -> list[int]:
    """Insert ``count`` public media rows (unique paths); extra columns apply to all."""
    names = ["path", "filename", "category", *columns]
    rows = []
    stamp = time.monotonic_ns()
    for i in range(count):
        base = {
            "path": f"/public/{stamp}/clip_{i}.mp4",
            "filename": f"clip_{i}.mp4",
            "category": "highlights",
        }
        rows.append([base[n] if n in base else columns[n] for n in names])
    placeholders = ", ".join(["%s"] * len(names))
    with connect(settings) as conn, conn.cursor() as cur:
        ids = []
        for row in rows:
            cur.execute(
                f"INSERT INTO public_media ({', '.join(names)}) VALUES ({placeholders}) "  # type: ignore[arg-type]
                "RETURNING id",
                row,
            )
            fetched = cur.fetchone()
            assert fetched is not None
            ids.append(int(fetched[0]))
        return ids


def scalar(settings: Settings, sql: str, *params: Any) -> Any:
    with connect(settings) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None


def admin_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}


def user_headers(settings: Settings, user_id: int = 7) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user_id, 'user')}"}
