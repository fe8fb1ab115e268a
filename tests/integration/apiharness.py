"""Helpers of the API tests: the app under a real server or a TestClient, rows, tokens.

``live_server`` runs uvicorn in a thread on a free loopback port (the app's lifespan opens its
pool inside that loop), for concurrency and Schemathesis runs; contract tests use Starlette's
``TestClient`` as a context manager so the lifespan runs too.
"""

from __future__ import annotations

import asyncio
import json
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
        proxy_headers=False,  # as `mediaq api` runs it: the app decides whom to trust
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
    names = ["path", "filename", *[c for c in columns if c not in ("path", "filename")]]
    if "category" not in columns:
        names.append("category")
    rows = []
    stamp = time.monotonic_ns()
    for i in range(count):
        base = {
            "path": f"/public/{stamp}/clip_{i}.mp4",
            "filename": f"clip_{i}.mp4",
            "category": "highlights",
            **columns,
        }
        rows.append([base[n] for n in names])
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


class RawConnection:
    """One keep-alive HTTP/1.1 connection: a lean client for firing thousands of requests.

    httpx's async pool spends more CPU than the server under hundreds of concurrent
    requests on a 2-core machine; this sends requests back to back on one socket.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str) -> RawConnection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def fire(
    base: str, per_connection: list[list[tuple[str, str, Any]]]
) -> list[tuple[int, bytes]]:
    """Send each list of (method, path, body) in order on its own connection, all at once."""

    async def run(requests: list[tuple[str, str, Any]]) -> list[tuple[int, bytes]]:
        conn = await RawConnection.open(base)
        try:
            return [await conn.request(*r) for r in requests]
        finally:
            await conn.close()

    results = await asyncio.gather(*(run(r) for r in per_connection))
    return [response for chunk in results for response in chunk]
