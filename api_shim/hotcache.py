"""A tiny per-process cache of rendered media JSON, for hot items read by many at once.

A video that thousands watch at the same moment is read by every one of them; this keeps its
rendered JSON for ``ttl_s`` (1 s) so one API process reads the row about once a second
instead of once per viewer. Every write this process makes to a media row (upvote, comment,
finish, watch time, lock) drops the entry at once; writes by other processes show within the
TTL. View counts lag anyway until the next view flush.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

DETAIL_TTL_S = 1.0
MAX_ENTRIES = 10_000


class HotCache:
    """id -> (text, expires at), bounded; time is passed in for tests."""

    def __init__(self, ttl_s: float = DETAIL_TTL_S, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[int, tuple[str, float]] = {}
        self._loading: dict[int, asyncio.Future[str | None]] = {}

    def get(self, key: int, now: float | None = None) -> str | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[1] <= (time.monotonic() if now is None else now):
            del self._data[key]
            return None
        return hit[0]

    def put(self, key: int, value: str, now: float | None = None) -> None:
        if len(self._data) >= self.max_entries:
            self._data.clear()  # cheap and rare: the hot items come straight back
        self._data[key] = (value, (time.monotonic() if now is None else now) + self.ttl_s)

    def drop(self, *keys: int) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def load(self, key: int, fetch: Callable[[], Awaitable[str | None]]) -> str | None:
        """The cached text, else ``fetch()`` once for all concurrent callers (None: missing).

        When a hot item expires, the hundreds of requests in flight for it wait for one read
        instead of all queueing for the database pool at once.
        """
        text = self.get(key)
        if text is not None:
            return text
        loading = self._loading.get(key)
        if loading is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # this request itself was cancelled
                return await fetch()  # the shared read failed: read on our own
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            text = await fetch()
        except BaseException:
            future.cancel()  # the waiters see CancelledError and retry on their own
            raise
        finally:
            del self._loading[key]
        if text is not None:
            self.put(key, text)
        future.set_result(text)
        return text
