"""Guards of the public writes: one client, one address, cannot game or flood the gallery.

Anyone may upvote, report a view, finish, send watch time, comment and react without an
account (the seed's session-based design). Three rules keep one client honest:

- **Rate limits** per client address and per session (or user) on every public write, in
  Redis with the ``limits`` library's moving window (exact: never more than N in any span of
  the period). Over a limit: 429 ``{"error": ...}`` with ``Retry-After``. The limits are the
  ``limit_<action>_<scope>`` settings.
- **Sessions cost something to mint**: the distinct sessions one address may vote or count
  views with within ``sessions_window_s`` are bounded (``sessions_per_address``; the rule is
  ``mediaq.guardwire.ADMIT_SESSION_LUA``). A vote from one more session gets 429; a view from
  one is not counted. Client-generated session ids keep working within the bound.
- **No repeated comments**: the same body (case and spacing folded) from one session or one
  address within ``comment_repeat_window_s`` is refused with 429.

The client address is the TCP peer, or, when the peer is a configured trusted proxy
(``trusted_proxies``), the address that proxy puts in ``X-Forwarded-For``
(``api_shim.app`` installs uvicorn's ``ProxyHeadersMiddleware`` for those proxies only). An
IPv6 client is limited by its /64, the network one subscriber gets.

Every refusal is counted by route and reason in a Redis hash that ``/metrics`` reports.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from starlette.requests import Request

from api_shim.errors import ApiError
from mediaq.guardwire import (
    ADMIT_SESSION_LUA,
    refusal_field,
    refusals_key,
    sessions_prefix,
)
from mediaq.settings import LIMIT_SCOPES, PUBLIC_ACTIONS, Settings, env_name, parse_limits
from mediaq.viewbuffer import session_key

# Refusal reasons, as /metrics labels them.
ADDRESS_RATE = "address_rate"
SESSION_RATE = "session_rate"
SESSIONS = "sessions"
REPEAT = "repeat"
UNPLAYED = "unplayed"

ADMIT_SCRIPT = ADMIT_SESSION_LUA + "return admit_session(KEYS[1], ARGV[1], %s, %s)"
# KEYS: one repeat marker per scope. ARGV: window. 1 when any of them was already set.
REPEAT_LUA = """
local seen = 0
for i = 1, #KEYS do
  if not redis.call('SET', KEYS[i], 1, 'NX', 'EX', ARGV[1]) then seen = 1 end
end
return seen
"""

_WHAT = {
    "vote": "votes",
    "view": "view reports",
    "play": "playback reports",
    "comment": "comments",
    "reaction": "reactions",
}


def address_key(host: str | None) -> str:
    """The unit one client is limited by: its IPv4 address, or its IPv6 /64."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP (a test client's name): itself
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(request: Request) -> str:
    """The client's address key (already resolved through trusted proxies, if any)."""
    return address_key(request.client.host if request.client else None)


def session_identity(raw: str) -> str:
    """The key of a client-chosen session id (the view buffer keys sessions the same way)."""
    return session_key("s:" + raw)


def user_identity(user_id: int) -> str:
    return f"u{user_id}"


def comment_fingerprint(body: str) -> str:
    """Case and whitespace folded, hashed: what "the same comment" means."""
    folded = " ".join(body.casefold().split())
    return hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _period(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds} s"


@dataclass(frozen=True)
class GuardPolicy:
    """The guard's settings, parsed once."""

    enabled: bool
    limits: Mapping[tuple[str, str], tuple[RateLimitItem, ...]]  # (action, scope) -> items
    sessions_per_address: int
    sessions_window_s: int
    repeat_window_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardPolicy:
        limits = {
            (action, scope): tuple(
                parse_limits(
                    env_name(f"limit_{action}_{scope}"),
                    getattr(settings, f"limit_{action}_{scope}"),
                )
            )
            for action in PUBLIC_ACTIONS
            for scope in LIMIT_SCOPES
        }
        return cls(
            enabled=settings.rate_limits,
            limits=limits,
            sessions_per_address=settings.sessions_per_address if settings.rate_limits else 0,
            sessions_window_s=settings.sessions_window_s,
            repeat_window_s=settings.comment_repeat_window_s if settings.rate_limits else 0,
        )


class Guard:
    """The checks of one API process, over the app's Redis connection pool."""

    def __init__(self, redis: Redis, redis_url: str, prefix: str, policy: GuardPolicy) -> None:
        self.policy = policy
        self._redis = redis
        self._prefix = prefix
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=f"{prefix}:guard:limits",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # passed on to redis-py
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._admit = redis.register_script(
            ADMIT_SCRIPT % (policy.sessions_per_address, policy.sessions_window_s)
        )
        self._repeat = redis.register_script(REPEAT_LUA)

    async def limit(self, route: str, action: str, address: str, identity: str | None) -> None:
        """Consume one request of ``action`` for the address and the session; 429 when over."""
        if not self.policy.enabled:
            return
        checks = [(item, "address", address) for item in self.policy.limits[(action, "address")]]
        if identity is not None:
            checks += [
                (item, "session", identity) for item in self.policy.limits[(action, "session")]
            ]
        allowed = await asyncio.gather(
            *(self._limiter.hit(item, action, scope, who) for item, scope, who in checks)
        )
        for ok, (item, scope, who) in zip(allowed, checks, strict=True):
            if ok:
                continue
            stats = await self._limiter.get_window_stats(item, action, scope, who)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            reason = ADDRESS_RATE if scope == "address" else SESSION_RATE
            holder = "this address" if scope == "address" else "this session"
            await self.refuse(
                route,
                reason,
                f"Too many {_WHAT[action]} from {holder}: at most {item.amount} per "
                f"{_period(item)}; retry in {retry} s",
                retry,
            )

    async def admit_session(self, route: str, address: str, identity: str) -> None:
        """A vote's session must be one of the few this address may use; 429 otherwise."""
        if self.policy.sessions_per_address <= 0:
            return
        wait = int(
            await self._admit(keys=[sessions_prefix(self._prefix) + address], args=[identity])
        )
        if wait:
            await self.refuse(
                route,
                SESSIONS,
                f"Too many sessions from this address: at most "
                f"{self.policy.sessions_per_address} per {self.policy.sessions_window_s} s; "
                f"retry in {wait} s",
                wait,
            )

    async def refuse_repeats(self, route: str, body: str, address: str, identity: str) -> None:
        """The same comment again from this session or address within the window: 429."""
        window = self.policy.repeat_window_s
        if window <= 0:
            return
        fingerprint = comment_fingerprint(body)
        keys = [
            f"{self._prefix}:guard:repeat:a:{address}:{fingerprint}",
            f"{self._prefix}:guard:repeat:s:{identity}:{fingerprint}",
        ]
        if int(await self._repeat(keys=keys, args=[window])):
            await self.refuse(
                route,
                REPEAT,
                f"The same comment was already posted; wait {window} s to post it again",
                window,
            )

    async def count_refusal(self, route: str, reason: str, n: int = 1) -> None:
        await self._redis.hincrby(refusals_key(self._prefix), refusal_field(route, reason), n)

    async def refuse(self, route: str, reason: str, message: str, retry_s: int) -> None:
        """Count the refusal, then answer 429 with Retry-After."""
        await self.count_refusal(route, reason)
        raise ApiError.too_many(message, retry_s)
