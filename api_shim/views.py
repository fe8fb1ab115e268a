"""The API side of the view buffer (``mediaq.viewbuffer``): views recorded in batches.

``ViewRecorder.record`` only appends to a list, and one task sends whatever accumulated while
the previous script ran, so Redis sees one round trip per batch rather than per view, and the
response never waits for Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mediaq.guardwire import refusal_field, refusals_key, sessions_prefix
from mediaq.viewbuffer import MAX_BATCH_PAIRS, RECORD_LUA, ViewBuffer

log = logging.getLogger(__name__)

MAX_HELD_PAIRS = 1_000_000  # views held in memory while Redis is unreachable
RETRY_S = 0.5
PAGE_VIEW_ROUTE = "GET /api/media/public/{id}"
ITEM = 3  # media id, session key, client address


class ViewRecorder:
    """Collects views on the request path and sends them to Redis in batches."""

    def __init__(self, redis: Redis, buffer: ViewBuffer) -> None:
        self._redis = redis
        self._buffer = buffer
        self._script = redis.register_script(RECORD_LUA)
        self._pairs: list[str] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, media_id: int, session: str, address: str) -> None:
        """Count a view later (never blocks; the caller does not wait for Redis)."""
        if len(self._pairs) >= ITEM * MAX_HELD_PAIRS:
            self.dropped += 1
            return
        self._pairs += (str(media_id), session, address)
        self._wake.set()

    async def count_now(
        self, media_id: int, session: str, address: str, route: str
    ) -> tuple[bool, bool]:
        """Count one view at once: (counted, refused by the sessions bound of the address)."""
        counted, refused = await self._send([str(media_id), session, address], route)
        return counted == 1, refused == 1

    async def _send(self, items: list[str], route: str) -> tuple[int, int]:
        buffer = self._buffer
        counted, refused = await self._script(
            keys=[buffer.pending_key, refusals_key(buffer.prefix)],
            args=[
                buffer.window_s,
                buffer.seen_prefix,
                sessions_prefix(buffer.prefix),
                buffer.sessions_per_address,
                buffer.sessions_window_s,
                refusal_field(route, "sessions"),
                *items,
            ],
        )
        return int(counted), int(refused)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mediaq-view-recorder")

    async def stop(self) -> None:
        """Send what is held, then stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except RedisError as exc:
                log.warning("view recorder: Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)
                self._wake.set()

    async def flush(self) -> int:
        """Send every held view now; returns how many were counted (not duplicates)."""
        counted = 0
        while self._pairs:
            batch = self._pairs[: ITEM * MAX_BATCH_PAIRS]
            del self._pairs[: len(batch)]
            try:
                counted += (await self._send(batch, PAGE_VIEW_ROUTE))[0]
            except RedisError:
                self._pairs[:0] = batch  # keep them for the retry, in order
                raise
        return counted
