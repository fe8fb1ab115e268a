"""One frozen settings object, built from the environment once and passed down.

Nothing else in mediaq reads ``os.environ``: tests and commands build their own
``Settings`` (``Settings.from_env(...)`` or ``dataclasses.replace``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from limits import RateLimitItem, parse_many

from mediaq.errors import ConfigError

RESOURCE_CLASSES = ("cpu", "gpu_encode", "gpu_ai")
# Public writes that are rate limited, each per client address and per session (or user):
# vote = upvote and its removal, view = the player's view report, play = finish and watch
# time, comment, reaction. Their limits are the ``limit_<action>_<scope>`` settings.
PUBLIC_ACTIONS = ("vote", "view", "play", "comment", "reaction")
LIMIT_SCOPES = ("address", "session")
LIMIT_FIELDS = tuple(f"limit_{a}_{s}" for a in PUBLIC_ACTIONS for s in LIMIT_SCOPES)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _as_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _as_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


def _as_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def normalize_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form and select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Every setting of every mediaq role. Field docs name the environment variable."""

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # DATABASE_URL
    redis_url: str = "redis://127.0.0.1:6379/0"  # REDIS_URL (the Celery broker)
    api_host: str = "0.0.0.0"  # MEDIA_API_HOST
    api_port: int = 4100  # MEDIA_API_PORT
    jwt_secret: str = field(default="", repr=False)  # JWT_SECRET
    admin_roles: tuple[str, ...] = ("admin", "super_admin")  # MEDIAQ_ADMIN_ROLES
    cors_origins: tuple[str, ...] = ()  # CORS_ORIGINS
    enable_media_features: bool = False  # ENABLE_MEDIA_FEATURES
    max_upload_size_gb: float = 10.0  # MAX_UPLOAD_SIZE_GB
    library_root: str = "./library"  # MEDIAQ_LIBRARY_ROOT
    public_root: str = "./library/public"  # MEDIAQ_PUBLIC_ROOT
    output_root: str = "./library/output"  # MEDIAQ_OUTPUT_ROOT
    thumbnail_root: str = "./library/thumbnails"  # MEDIAQ_THUMBNAIL_ROOT
    # MEDIAQ_ACCEL_REDIRECT: behind nginx, the internal location prefix that serves the public
    # roots (e.g. /_media); media bytes are then handed over with X-Accel-Redirect
    accel_redirect: str = ""
    # worker host
    host_name: str = field(default_factory=socket.gethostname)  # MEDIAQ_HOST
    classes: tuple[str, ...] = RESOURCE_CLASSES  # MEDIAQ_CLASSES
    concurrency: int = 2  # MEDIAQ_CONCURRENCY (CPU slots)
    gpu_slots: int = 4  # MEDIAQ_GPU_SLOTS (jobs at once on one GPU)
    nvenc_sessions: int = 3  # MEDIAQ_NVENC_SESSIONS
    fake_gpus: tuple[int, ...] = ()  # MEDIAQ_FAKE_GPUS (MiB per fake GPU)
    worker_gpu: str = ""  # MEDIAQ_WORKER_GPU: set by the daemon on a per-GPU Celery worker
    daemon_pid: int = 0  # MEDIAQ_DAEMON_PID: set by the daemon on its Celery workers (0: none)
    task_events: bool = True  # MEDIAQ_TASK_EVENTS: Celery task events for Flower
    cpu_only: bool = False  # MEDIAQ_CPU_ONLY: GPU job types default to the CPU class
    fetch_allow_private: bool = False  # MEDIAQ_FETCH_ALLOW_PRIVATE: fetch may reach internal IPs
    # timing
    heartbeat_interval_s: float = 5.0  # MEDIAQ_HEARTBEAT_INTERVAL
    heartbeat_timeout_s: float = 30.0  # MEDIAQ_HEARTBEAT_TIMEOUT
    claim_timeout_s: float = 30.0  # MEDIAQ_CLAIM_TIMEOUT (queued but not claimed)
    host_timeout_s: float = 20.0  # MEDIAQ_HOST_TIMEOUT (host heartbeat)
    scheduler_tick_s: float = 1.0  # MEDIAQ_SCHEDULER_TICK
    cancel_poll_s: float = 1.0  # MEDIAQ_CANCEL_POLL
    # admission
    vram_margin_mib: int = 512  # MEDIAQ_VRAM_MARGIN_MIB
    lookahead: int = 8  # MEDIAQ_LOOKAHEAD (extra queued CPU jobs beyond free slots)
    log_max_chars: int = 65536  # MEDIAQ_LOG_MAX_CHARS
    view_window_s: int = 1800  # MEDIAQ_VIEW_WINDOW
    json_logs: bool = False  # MEDIAQ_JSON_LOGS
    queue_prefix: str = "mediaq"  # MEDIAQ_QUEUE_PREFIX
    # retention: finished jobs are deleted this many days after they ended (0 keeps forever)
    retain_completed_days: int = 7  # MEDIAQ_RETAIN_COMPLETED_DAYS
    retain_failed_days: int = 30  # MEDIAQ_RETAIN_FAILED_DAYS
    retain_cancelled_days: int = 7  # MEDIAQ_RETAIN_CANCELLED_DAYS
    # public writes (api_shim/guard.py): "N/period", several joined by ";" (the `limits`
    # library's notation); a request over any of them gets 429 with Retry-After
    rate_limits: bool = True  # MEDIAQ_RATE_LIMITS: false turns every limit below off
    limit_vote_address: str = "30/minute;300/hour"  # MEDIAQ_LIMIT_VOTE_ADDRESS
    limit_vote_session: str = "10/minute"  # MEDIAQ_LIMIT_VOTE_SESSION
    limit_view_address: str = "120/minute"  # MEDIAQ_LIMIT_VIEW_ADDRESS
    limit_view_session: str = "20/minute"  # MEDIAQ_LIMIT_VIEW_SESSION
    limit_play_address: str = "300/minute"  # MEDIAQ_LIMIT_PLAY_ADDRESS
    limit_play_session: str = "60/minute"  # MEDIAQ_LIMIT_PLAY_SESSION
    limit_comment_address: str = "10/minute;100/hour"  # MEDIAQ_LIMIT_COMMENT_ADDRESS
    limit_comment_session: str = "3/minute;30/hour"  # MEDIAQ_LIMIT_COMMENT_SESSION
    limit_reaction_address: str = "60/minute"  # MEDIAQ_LIMIT_REACTION_ADDRESS
    limit_reaction_session: str = "20/minute"  # MEDIAQ_LIMIT_REACTION_SESSION (per user)
    # distinct sessions one address may vote or count views with per window (0: unbounded)
    sessions_per_address: int = 20  # MEDIAQ_SESSIONS_PER_ADDRESS
    sessions_window_s: int = 3600  # MEDIAQ_SESSIONS_WINDOW
    comment_repeat_window_s: int = 600  # MEDIAQ_COMMENT_REPEAT_WINDOW: same body refused
    view_min_play_s: int = 5  # MEDIAQ_VIEW_MIN_PLAY: seconds of play before the player's view
    # addresses/networks of reverse proxies whose X-Forwarded-For names the client
    trusted_proxies: tuple[str, ...] = ()  # MEDIAQ_TRUSTED_PROXIES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from an environment mapping (``os.environ`` when None)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        text = {
            "DATABASE_URL": "database_url",
            "REDIS_URL": "redis_url",
            "MEDIA_API_HOST": "api_host",
            "JWT_SECRET": "jwt_secret",
            "MEDIAQ_LIBRARY_ROOT": "library_root",
            "MEDIAQ_PUBLIC_ROOT": "public_root",
            "MEDIAQ_OUTPUT_ROOT": "output_root",
            "MEDIAQ_THUMBNAIL_ROOT": "thumbnail_root",
            "MEDIAQ_ACCEL_REDIRECT": "accel_redirect",
            "MEDIAQ_HOST": "host_name",
            "MEDIAQ_QUEUE_PREFIX": "queue_prefix",
            "MEDIAQ_WORKER_GPU": "worker_gpu",
        }
        for var, name in text.items():
            if env.get(var):
                values[name] = env[var]
        ints = {
            "MEDIA_API_PORT": ("api_port", 1),
            "MEDIAQ_CONCURRENCY": ("concurrency", 0),
            "MEDIAQ_GPU_SLOTS": ("gpu_slots", 1),
            "MEDIAQ_NVENC_SESSIONS": ("nvenc_sessions", 0),
            "MEDIAQ_VRAM_MARGIN_MIB": ("vram_margin_mib", 0),
            "MEDIAQ_LOOKAHEAD": ("lookahead", 0),
            "MEDIAQ_LOG_MAX_CHARS": ("log_max_chars", 256),
            "MEDIAQ_VIEW_WINDOW": ("view_window_s", 1),
            "MEDIAQ_RETAIN_COMPLETED_DAYS": ("retain_completed_days", 0),
            "MEDIAQ_RETAIN_FAILED_DAYS": ("retain_failed_days", 0),
            "MEDIAQ_RETAIN_CANCELLED_DAYS": ("retain_cancelled_days", 0),
            "MEDIAQ_SESSIONS_PER_ADDRESS": ("sessions_per_address", 0),
            "MEDIAQ_SESSIONS_WINDOW": ("sessions_window_s", 1),
            "MEDIAQ_COMMENT_REPEAT_WINDOW": ("comment_repeat_window_s", 0),
            "MEDIAQ_VIEW_MIN_PLAY": ("view_min_play_s", 0),
            "MEDIAQ_DAEMON_PID": ("daemon_pid", 0),
        }
        for var, (name, minimum) in ints.items():
            if env.get(var):
                values[name] = _as_int(var, env[var], minimum)
        floats = {
            "MAX_UPLOAD_SIZE_GB": "max_upload_size_gb",
            "MEDIAQ_HEARTBEAT_INTERVAL": "heartbeat_interval_s",
            "MEDIAQ_HEARTBEAT_TIMEOUT": "heartbeat_timeout_s",
            "MEDIAQ_CLAIM_TIMEOUT": "claim_timeout_s",
            "MEDIAQ_HOST_TIMEOUT": "host_timeout_s",
            "MEDIAQ_SCHEDULER_TICK": "scheduler_tick_s",
            "MEDIAQ_CANCEL_POLL": "cancel_poll_s",
        }
        for var, name in floats.items():
            if env.get(var):
                values[name] = _as_float(var, env[var])
        if "ENABLE_MEDIA_FEATURES" in env:
            values["enable_media_features"] = _as_bool(
                "ENABLE_MEDIA_FEATURES", env["ENABLE_MEDIA_FEATURES"]
            )
        if "MEDIAQ_JSON_LOGS" in env:
            values["json_logs"] = _as_bool("MEDIAQ_JSON_LOGS", env["MEDIAQ_JSON_LOGS"])
        if "MEDIAQ_FETCH_ALLOW_PRIVATE" in env:
            values["fetch_allow_private"] = _as_bool(
                "MEDIAQ_FETCH_ALLOW_PRIVATE", env["MEDIAQ_FETCH_ALLOW_PRIVATE"]
            )
        if "MEDIAQ_CPU_ONLY" in env:
            values["cpu_only"] = _as_bool("MEDIAQ_CPU_ONLY", env["MEDIAQ_CPU_ONLY"])
        for name in LIMIT_FIELDS:
            if env.get(_ENV_NAMES[name]):
                values[name] = env[_ENV_NAMES[name]].strip()
        if "MEDIAQ_RATE_LIMITS" in env:
            values["rate_limits"] = _as_bool("MEDIAQ_RATE_LIMITS", env["MEDIAQ_RATE_LIMITS"])
        if env.get("MEDIAQ_TRUSTED_PROXIES"):
            values["trusted_proxies"] = _as_list(env["MEDIAQ_TRUSTED_PROXIES"])
        if "MEDIAQ_TASK_EVENTS" in env:
            values["task_events"] = _as_bool("MEDIAQ_TASK_EVENTS", env["MEDIAQ_TASK_EVENTS"])
        if env.get("CORS_ORIGINS"):
            values["cors_origins"] = _as_list(env["CORS_ORIGINS"])
        if env.get("MEDIAQ_ADMIN_ROLES"):
            values["admin_roles"] = _as_list(env["MEDIAQ_ADMIN_ROLES"])
        if env.get("MEDIAQ_CLASSES"):
            values["classes"] = parse_classes(env["MEDIAQ_CLASSES"])
        if env.get("MEDIAQ_FAKE_GPUS"):
            values["fake_gpus"] = parse_fake_gpus(env["MEDIAQ_FAKE_GPUS"])
        values.update(overrides)
        return cls(**values).validated()

    def __repr__(self) -> str:
        """Every field, with the passwords of the URLs masked (settings end up in logs)."""
        shown = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if isinstance(value, str) and "://" in value:
                value = mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def validated(self) -> Settings:
        """Return self with the database URL normalized, or raise ConfigError."""
        for name in self.classes:
            if name not in RESOURCE_CLASSES:
                raise ConfigError(f"unknown resource class {name!r}")
        for name in LIMIT_FIELDS:
            parse_limits(_ENV_NAMES[name], getattr(self, name))
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"MEDIAQ_TRUSTED_PROXIES: {proxy!r} is not an address or network"
                ) from None
        return replace(self, database_url=normalize_database_url(self.database_url))

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced (CLI flags use this)."""
        known = {f.name for f in fields(self)}
        given = {k: v for k, v in overrides.items() if k in known and v is not None}
        return replace(self, **given).validated()


def parse_classes(raw: str) -> tuple[str, ...]:
    """Parse ``cpu,gpu_encode`` into a tuple of known resource classes."""
    classes = _as_list(raw)
    for name in classes:
        if name not in RESOURCE_CLASSES:
            raise ConfigError(
                f"MEDIAQ_CLASSES: unknown class {name!r}; use {', '.join(RESOURCE_CLASSES)}"
            )
    return classes


def parse_limits(name: str, raw: str) -> list[RateLimitItem]:
    """``30/minute;300/hour`` as rate limit items (``limits`` notation), or ConfigError."""
    try:
        items = parse_many(raw)
    except ValueError:
        items = []
    if not items:
        raise ConfigError(f"{name} must be limits like '30/minute;300/hour', not {raw!r}")
    return items


def parse_fake_gpus(raw: str) -> tuple[int, ...]:
    """Parse ``24576,81920`` (MiB per fake GPU)."""
    return tuple(_as_int("MEDIAQ_FAKE_GPUS", part, 1) for part in _as_list(raw))


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "api_host": "MEDIA_API_HOST",
    "api_port": "MEDIA_API_PORT",
    "jwt_secret": "JWT_SECRET",
    "admin_roles": "MEDIAQ_ADMIN_ROLES",
    "cors_origins": "CORS_ORIGINS",
    "enable_media_features": "ENABLE_MEDIA_FEATURES",
    "max_upload_size_gb": "MAX_UPLOAD_SIZE_GB",
    "library_root": "MEDIAQ_LIBRARY_ROOT",
    "public_root": "MEDIAQ_PUBLIC_ROOT",
    "output_root": "MEDIAQ_OUTPUT_ROOT",
    "thumbnail_root": "MEDIAQ_THUMBNAIL_ROOT",
    "accel_redirect": "MEDIAQ_ACCEL_REDIRECT",
    "host_name": "MEDIAQ_HOST",
    "classes": "MEDIAQ_CLASSES",
    "concurrency": "MEDIAQ_CONCURRENCY",
    "gpu_slots": "MEDIAQ_GPU_SLOTS",
    "nvenc_sessions": "MEDIAQ_NVENC_SESSIONS",
    "fake_gpus": "MEDIAQ_FAKE_GPUS",
    "worker_gpu": "MEDIAQ_WORKER_GPU",
    "daemon_pid": "MEDIAQ_DAEMON_PID",
    "task_events": "MEDIAQ_TASK_EVENTS",
    "cpu_only": "MEDIAQ_CPU_ONLY",
    "fetch_allow_private": "MEDIAQ_FETCH_ALLOW_PRIVATE",
    "heartbeat_interval_s": "MEDIAQ_HEARTBEAT_INTERVAL",
    "heartbeat_timeout_s": "MEDIAQ_HEARTBEAT_TIMEOUT",
    "claim_timeout_s": "MEDIAQ_CLAIM_TIMEOUT",
    "host_timeout_s": "MEDIAQ_HOST_TIMEOUT",
    "scheduler_tick_s": "MEDIAQ_SCHEDULER_TICK",
    "cancel_poll_s": "MEDIAQ_CANCEL_POLL",
    "vram_margin_mib": "MEDIAQ_VRAM_MARGIN_MIB",
    "lookahead": "MEDIAQ_LOOKAHEAD",
    "log_max_chars": "MEDIAQ_LOG_MAX_CHARS",
    "view_window_s": "MEDIAQ_VIEW_WINDOW",
    "json_logs": "MEDIAQ_JSON_LOGS",
    "queue_prefix": "MEDIAQ_QUEUE_PREFIX",
    "retain_completed_days": "MEDIAQ_RETAIN_COMPLETED_DAYS",
    "retain_failed_days": "MEDIAQ_RETAIN_FAILED_DAYS",
    "retain_cancelled_days": "MEDIAQ_RETAIN_CANCELLED_DAYS",
    "rate_limits": "MEDIAQ_RATE_LIMITS",
    **{name: "MEDIAQ_" + name.upper() for name in LIMIT_FIELDS},
    "sessions_per_address": "MEDIAQ_SESSIONS_PER_ADDRESS",
    "sessions_window_s": "MEDIAQ_SESSIONS_WINDOW",
    "comment_repeat_window_s": "MEDIAQ_COMMENT_REPEAT_WINDOW",
    "view_min_play_s": "MEDIAQ_VIEW_MIN_PLAY",
    "trusted_proxies": "MEDIAQ_TRUSTED_PROXIES",
}


def env_name(field_name: str) -> str:
    """The environment variable of a settings field (``library_root``: ``MEDIAQ_LIBRARY_ROOT``)."""
    return _ENV_NAMES[field_name]


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The environment that rebuilds ``settings`` in a child process (inverse of from_env)."""
    env: dict[str, str] = {}
    for name, var in _ENV_NAMES.items():
        value = getattr(settings, name)
        if isinstance(value, bool):
            env[var] = "true" if value else "false"
        elif isinstance(value, tuple):
            env[var] = ",".join(str(v) for v in value)
        else:
            env[var] = str(value)
    return env
