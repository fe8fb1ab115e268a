"""What the async endpoints share for the life of the app: a PostgreSQL pool, Redis, views.

Opened by the app's lifespan inside the serving event loop and closed on shutdown (the tests
run the app under a real uvicorn server, so the lifespan runs as in production). The pool
hands out autocommit connections: a read is one statement with no ``BEGIN``/``COMMIT``
around it (about 30 % of a read endpoint's cost otherwise), and writes run in an explicit
transaction through ``Resources.write``. Both are tried once more on a fresh connection
when the pooled one died with a database restart (a write only when its ``COMMIT`` was
not sent: ``api_shim.dbretry``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import psycopg
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.applications import Starlette
from starlette.requests import Request

from api_shim.dbretry import retry_safe
from api_shim.gallery import SearchTotals
from api_shim.guard import Guard, GuardPolicy
from api_shim.hotcache import HotCache
from api_shim.mediafiles import LibraryFiles
from api_shim.views import ViewRecorder
from mediaq.db import CONNECT_ARGS
from mediaq.settings import Settings
from mediaq.viewbuffer import ViewBuffer

POOL_MIN = 2
POOL_MAX = 10
RETRY_WAIT_S = 2.0  # a read tried again after a restart waits this long for a connection
POOL_WAIT_S = 5.0
RECONNECT_FOREVER_S = 10 * 365 * 24 * 3600.0  # the pool never gives up reconnecting
REDIS_MAX = 64
REDIS_WAIT_S = 10.0

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


def plain_conninfo(database_url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy's form) -> ``postgresql://...`` (libpq's)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        return database_url
    return "postgresql://" + rest if scheme.startswith("postgres") else database_url


@dataclass
class Resources:
    """The shared async clients of one running app."""

    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    redis: Redis
    views: ViewRecorder
    buffer: ViewBuffer
    guard: Guard  # rate limits and the other checks of public writes
    details: HotCache  # rendered media JSON of hot items (1 s)
    search_totals: SearchTotals  # totals of gallery searches (5 s)
    files: LibraryFiles  # the public roots: opening files, library-relative paths

    async def fetch_one(self, sql: bytes, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """One row of a read-only statement (autocommit: no transaction around it)."""
        try:
            return await self._fetch_one(sql, params)
        except psycopg.OperationalError:
            await self.purge_dead_connections()  # the database restarted: read once more
            return await self._fetch_one(sql, params, RETRY_WAIT_S)

    async def fetch_all(self, sql: bytes, params: Mapping[str, Any]) -> Sequence[tuple[Any, ...]]:
        """Every row of a read-only statement."""
        try:
            return await self._fetch_all(sql, params)
        except psycopg.OperationalError:
            await self.purge_dead_connections()
            return await self._fetch_all(sql, params, RETRY_WAIT_S)

    async def write(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """``work(conn)`` in one transaction. When the pooled connection turns out dead
        before the ``COMMIT`` was sent (nothing was written), the pool is purged and
        ``work`` runs once more on a fresh connection; a failure at ``COMMIT`` is not
        retried (it may have written)."""
        for attempt in (1, 2):
            conn: Conn | None = None
            commit_sent = False
            try:
                async with self.pool.connection(
                    timeout=RETRY_WAIT_S if attempt == 2 else None
                ) as conn:
                    async with conn.transaction():
                        result = await work(conn)
                        commit_sent = True  # leaving the block sends the COMMIT
                    return result
            except psycopg.OperationalError:
                dead = conn is not None and (conn.closed or conn.broken)
                if attempt == 2 or not retry_safe(dead, commit_sent):
                    raise
                await self.purge_dead_connections()
        raise AssertionError("unreachable")

    async def purge_dead_connections(self) -> None:
        """Drop the pooled connections that died with a database restart (``pool.check``
        tests each idle one), so the next requests get live ones. Costs nothing on the
        happy path: only an error on a connection leads here."""
        with contextlib.suppress(Exception):
            await self.pool.check()

    async def _fetch_one(
        self, sql: bytes, params: Mapping[str, Any], wait_s: float | None = None
    ) -> tuple[Any, ...] | None:
        async with self.pool.connection(timeout=wait_s) as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()

    async def _fetch_all(
        self, sql: bytes, params: Mapping[str, Any], wait_s: float | None = None
    ) -> Sequence[tuple[Any, ...]]:
        async with self.pool.connection(timeout=wait_s) as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()


async def open_resources(settings: Settings) -> Resources:
    """Open the pool, the Redis client and the view recorder."""
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        plain_conninfo(settings.database_url),
        min_size=POOL_MIN,
        max_size=POOL_MAX,
        kwargs={"autocommit": True} | CONNECT_ARGS,
        # while the database is away a request waits this long, then answers 503
        timeout=POOL_WAIT_S,
        reconnect_timeout=RECONNECT_FOREVER_S,
        open=False,
        name="mediaq-api",
    )
    await pool.open()
    # A bounded pool that waits for a free connection: hundreds of concurrent requests (each
    # with a few rate-limit hits) share REDIS_MAX connections instead of failing past them.
    redis = Redis.from_pool(
        BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=REDIS_MAX, timeout=REDIS_WAIT_S
        )
    )
    policy = GuardPolicy.from_settings(settings)
    buffer = ViewBuffer(
        settings.queue_prefix,
        settings.view_window_s,
        sessions_per_address=policy.sessions_per_address,
        sessions_window_s=policy.sessions_window_s,
    )
    views = ViewRecorder(redis, buffer)
    views.start()
    return Resources(
        pool=pool,
        redis=redis,
        views=views,
        buffer=buffer,
        guard=Guard(redis, settings.redis_url, settings.queue_prefix, policy),
        details=HotCache(),
        search_totals=SearchTotals(),
        files=LibraryFiles(settings),
    )


async def close_resources(resources: Resources) -> None:
    """Flush what the recorder still holds, then close everything."""
    try:
        await resources.views.stop()
    finally:
        await resources.redis.aclose()
        await resources.pool.close()


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Starlette lifespan: the resources live exactly as long as the serving loop."""
    resources = await open_resources(app.state.settings)
    app.state.resources = resources
    try:
        yield
    finally:
        await close_resources(resources)


def resources_of(request: Request) -> Resources:
    """The running app's resources."""
    return cast(Resources, request.app.state.resources)
