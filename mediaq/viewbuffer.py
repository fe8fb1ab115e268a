"""The view buffer's Redis protocol, shared by the API (which records) and the scheduler (which
flushes): views deduplicated per session in Redis, drained to PostgreSQL in batches.

A view of media M by session S is counted at most once per ``view_window_s`` (a ``SET NX EX``
key per pair) and, when counted, added to one Redis hash of pending increments. Nothing
touches the media row on the request path, so a hot video is a hot Redis hash field (one
``HINCRBY``), never a hot-row lock in PostgreSQL.

The scheduler drains the hash (``scheduler.maintenance``): one atomic script renames the
pending hash to a batch key named by a fresh token and records the token in an in-flight set;
the batch is then applied in one transaction that also records the token in ``view_flushes``;
only after that commit is the batch key deleted. A flusher that dies anywhere leaves either
the batch (applied again next time, unless its token is already recorded) or nothing: every
view is applied exactly once.

The API side (``api_shim.views.ViewRecorder``) batches too: one Redis round trip per batch of
views rather than per view, and the response never waits for Redis.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis as SyncRedis

from mediaq.guardwire import ADMIT_SESSION_LUA

log = logging.getLogger(__name__)

# KEYS: pending hash, refusals hash. ARGV: window seconds, seen-key prefix, sessions-key
# prefix, sessions per address (0: unbounded), sessions window, refusal field, then
# (media id, session key, address) triples. A view counts when its session is admitted for
# its address (``guardwire``) and the pair was not seen within the window.
# Returns {counted, refused by the sessions bound}.
RECORD_LUA = (
    ADMIT_SESSION_LUA
    + """
local counted, refused = 0, 0
local bound, swindow = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 7, #ARGV, 3 do
  if admit_session(ARGV[3] .. ARGV[i + 2], ARGV[i + 1], bound, swindow) ~= 0 then
    refused = refused + 1
  elseif redis.call('SET', ARGV[2] .. ARGV[i] .. ':' .. ARGV[i + 1], 1, 'NX', 'EX', ARGV[1]) then
    redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
    counted = counted + 1
  end
end
if refused > 0 then redis.call('HINCRBY', KEYS[2], ARGV[6], refused) end
return {counted, refused}
"""
)

# KEYS: pending hash, in-flight set. ARGV: the new batch key. Returns every in-flight batch.
DRAIN_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[2])
"""

MAX_BATCH_PAIRS = 1000  # a script of 1000 SET NX keeps Redis busy for ~2 ms at most


def session_key(raw: str) -> str:
    """A short fixed-size key for a session id (bounded Redis key size, nothing echoed)."""
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class ViewBuffer:
    """The Redis key layout of the view buffer (prefix-scoped, so test runs never collide)."""

    prefix: str
    window_s: int
    sessions_per_address: int = 0  # distinct sessions one address may count views with
    sessions_window_s: int = 3600

    @property
    def pending_key(self) -> str:
        return f"{self.prefix}:views:pending"

    @property
    def inflight_key(self) -> str:
        return f"{self.prefix}:views:inflight"

    @property
    def seen_prefix(self) -> str:
        return f"{self.prefix}:views:seen:"

    def batch_key(self, token: str) -> str:
        return f"{self.prefix}:views:batch:{token}"

    def token_of(self, batch_key: str) -> str:
        return batch_key.rsplit(":", 1)[-1]

    # ---- the flusher's side (synchronous, used by the scheduler) --------------------------
    def begin_drain(self, redis: SyncRedis, token: str) -> list[str]:
        """Atomically move pending views into a batch; return every batch still in flight."""
        keys = redis.eval(DRAIN_LUA, 2, self.pending_key, self.inflight_key, self.batch_key(token))
        return sorted(_text(k) for k in keys)

    def read_batch(self, redis: SyncRedis, batch_key: str) -> dict[int, int]:
        """media id -> views of one batch (fields that are not ids are ignored)."""
        raw: dict[Any, Any] = redis.hgetall(batch_key)
        counts: dict[int, int] = {}
        for field, value in raw.items():
            try:
                counts[int(field)] = int(value)
            except ValueError:
                log.warning("ignoring malformed view field %r", field)
        return counts

    def finish_batch(self, redis: SyncRedis, batch_key: str) -> None:
        """Forget a batch whose views are committed."""
        pipe = redis.pipeline(transaction=True)
        pipe.delete(batch_key)
        pipe.srem(self.inflight_key, batch_key)
        pipe.execute()

    def pending_views(self, redis: SyncRedis, media_id: int) -> int:
        """Views of one media waiting to be flushed (for tests and diagnostics)."""
        value = redis.hget(self.pending_key, str(media_id))
        return int(value) if value is not None else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
