"""What the API's write guards share with other processes through Redis.

- The **sessions of an address**: one sorted set per client address of the sessions that
  voted or counted a view there (score: first use), so the number of distinct sessions one
  address may use within a window is bounded. ``ADMIT_SESSION_LUA`` defines the Lua function
  every script that admits a session calls, so the rule exists once: the API's vote guard and
  the view recorder's batch script both include it.
- The **refusal counters**: one Redis hash per deployment (queue prefix), a field per
  ``route|reason``, that ``/metrics`` reports as ``mediaq_public_refusals_total``. Any API
  replica adds to it; any replica reports the sum.
"""

from __future__ import annotations

from typing import Any

# admit_session(key, session, bound, window) -> 0 when the session may act (already admitted,
# or admitted now), else the seconds until the oldest session of the address leaves the window.
# A bound of 0 or less admits everyone. Time is Redis's own clock, so API replicas agree.
ADMIT_SESSION_LUA = """
local function admit_session(key, session, bound, window)
  if bound <= 0 then return 0 end
  local now = redis.call('TIME')
  local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', t - window)
  if redis.call('ZSCORE', key, session) then return 0 end
  if redis.call('ZCARD', key) >= bound then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return math.max(1, math.ceil(tonumber(oldest[2]) + window - t))
  end
  redis.call('ZADD', key, t, session)
  redis.call('EXPIRE', key, window)
  return 0
end
"""


def sessions_prefix(queue_prefix: str) -> str:
    """Key prefix of the per-address session sets (the address follows)."""
    return f"{queue_prefix}:guard:sessions:"


def refusals_key(queue_prefix: str) -> str:
    """The Redis hash of refused public writes: ``route|reason`` -> count."""
    return f"{queue_prefix}:guard:refusals"


def refusal_field(route: str, reason: str) -> str:
    return f"{route}|{reason}"


def read_refusals(raw: dict[Any, Any]) -> dict[tuple[str, str], int]:
    """The refusal hash as ``(route, reason) -> count`` (malformed fields are skipped)."""
    out: dict[tuple[str, str], int] = {}
    for key, value in raw.items():
        field = key.decode() if isinstance(key, bytes) else str(key)
        route, sep, reason = field.rpartition("|")
        if sep and route:
            out[(route, reason)] = int(value)
    return out
