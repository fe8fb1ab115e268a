"""One frozen settings object, built from the environment once and passed down.

Each setting is declared once, as a field of ``Settings``: its type, its default and, in
``setting(...)``, its environment variable, a line of description, its bounds, the CLI flag
that sets it (where the CLI has one) and a check. ``from_env`` reads and validates the
environment, ``settings_to_env`` writes it for a child process, ``ops.cli`` adds the flags and
``ops.settingsdoc`` writes the table of docs/operations.md, all from those declarations.

Nothing else in mediaq reads ``os.environ``: tests and commands build their own
``Settings`` (``Settings.from_env(...)`` or ``dataclasses.replace``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from functools import cache
from typing import Any, get_type_hints
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
    if not value > 0:  # NaN too
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


def check_classes(var: str, classes: tuple[str, ...]) -> None:
    for name in classes:
        if name not in RESOURCE_CLASSES:
            raise ConfigError(f"{var}: unknown class {name!r}; use {', '.join(RESOURCE_CLASSES)}")


def parse_limits(name: str, raw: str) -> list[RateLimitItem]:
    """``30/minute;300/hour`` as rate limit items (``limits`` notation), or ConfigError."""
    try:
        items = parse_many(raw)
    except ValueError:
        items = []
    if not items:
        raise ConfigError(f"{name} must be limits like '30/minute;300/hour', not {raw!r}")
    return items


def check_networks(var: str, networks: tuple[str, ...]) -> None:
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{var}: {network!r} is not an address or network") from None


@dataclass(frozen=True)
class Declared:
    """What a setting's declaration says beside its name, type and default."""

    env: str  # the environment variable
    doc: str  # one line: the settings table of docs/operations.md and the flag's --help
    minimum: int = 0  # an int (or each int of a list) below it is refused
    flag: str = ""  # the CLI option that sets it, on the commands that expose it
    shown: str = ""  # the default as the docs show it, where the value is not it
    check: Callable[[str, Any], object] | None = None  # (variable, value): ConfigError


def setting(
    default: Any,
    env: str,
    doc: str,
    *,
    minimum: int = 0,
    flag: str = "",
    shown: str = "",
    check: Callable[[str, Any], object] | None = None,
    secret: bool = False,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A settings field: its default, and its declaration as the field's metadata.
    A secret never shows in ``repr`` (settings end up in logs)."""
    meta = {"setting": Declared(env, doc, minimum, flag, shown, check)}
    if factory is not None:
        return field(default_factory=factory, repr=not secret, metadata=meta)
    return field(default=default, repr=not secret, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every setting of every mediaq role, each declared once (see ``setting``)."""

    database_url: str = setting(
        "postgresql://postgres@127.0.0.1:5432/test",
        "DATABASE_URL",
        "PostgreSQL; the plain `postgresql://` form works",
        flag="--database-url",
    )
    redis_url: str = setting(
        "redis://127.0.0.1:6379/0",
        "REDIS_URL",
        "the Celery broker; also event counters for `/metrics`",
        flag="--redis-url",
    )
    api_host: str = setting(
        "0.0.0.0", "MEDIA_API_HOST", "where `mediaq api` listens", flag="--host"
    )
    api_port: int = setting(
        4100, "MEDIA_API_PORT", "the port `mediaq api` listens on", minimum=1, flag="--port"
    )
    jwt_secret: str = setting(
        "", "JWT_SECRET", "HS256 secret; admin routes answer 401 without it", secret=True
    )
    admin_roles: tuple[str, ...] = setting(
        ("admin", "super_admin"), "MEDIAQ_ADMIN_ROLES", "JWT roles that count as admin"
    )
    cors_origins: tuple[str, ...] = setting((), "CORS_ORIGINS", "comma-separated allowed origins")
    enable_media_features: bool = setting(
        False,
        "ENABLE_MEDIA_FEATURES",
        "must be true for the API to start (`mediaq up` sets it unless told false)",
    )
    max_upload_size_gb: float = setting(
        10.0, "MAX_UPLOAD_SIZE_GB", "size limit of `fetch` downloads"
    )
    library_root: str = setting(
        "./library", "MEDIAQ_LIBRARY_ROOT", "the video library (scans, demo clips)"
    )
    public_root: str = setting("./library/public", "MEDIAQ_PUBLIC_ROOT", "gallery files")
    output_root: str = setting(
        "./library/output", "MEDIAQ_OUTPUT_ROOT", "re-encodes, GIFs, compilations"
    )
    thumbnail_root: str = setting(
        "./library/thumbnails",
        "MEDIAQ_THUMBNAIL_ROOT",
        "thumbnails and storyboards (served publicly for unlocked items)",
    )
    accel_redirect: str = setting(
        "",
        "MEDIAQ_ACCEL_REDIRECT",
        "behind nginx: the internal location prefix of the public roots (`/_media` in "
        "`deploy/nginx.conf`); the API then hands media bytes to nginx with `X-Accel-Redirect`",
    )
    # worker host
    host_name: str = setting(
        None,
        "MEDIAQ_HOST",
        "a worker host's name (unique per host)",
        factory=socket.gethostname,
        shown="the machine's name",
        flag="--host-name",
    )
    classes: tuple[str, ...] = setting(
        RESOURCE_CLASSES,
        "MEDIAQ_CLASSES",
        "classes a worker host serves",
        check=check_classes,
        flag="--classes",
    )
    concurrency: int = setting(
        2, "MEDIAQ_CONCURRENCY", "CPU job slots of a host", flag="--concurrency"
    )
    gpu_slots: int = setting(
        4, "MEDIAQ_GPU_SLOTS", "jobs at once on one GPU", minimum=1, flag="--gpu-slots"
    )
    nvenc_sessions: int = setting(
        3,
        "MEDIAQ_NVENC_SESSIONS",
        "NVENC sessions per GPU for `gpu_encode`",
        flag="--nvenc-sessions",
    )
    fake_gpus: tuple[int, ...] = setting(
        (), "MEDIAQ_FAKE_GPUS", "fake GPUs, MiB each", minimum=1, flag="--fake-gpus"
    )
    worker_gpu: str = setting(
        "",
        "MEDIAQ_WORKER_GPU",
        "the GPU of a per-GPU Celery worker; never set by hand",
        shown="(set by the daemon)",
    )
    daemon_pid: int = setting(
        0,
        "MEDIAQ_DAEMON_PID",
        "the host daemon a Celery worker belongs to: the worker stops when that daemon is "
        "gone; never set by hand",
        shown="(set by the daemon)",
    )
    task_events: bool = setting(
        True, "MEDIAQ_TASK_EVENTS", "Celery task events (Flower's task list and progress)"
    )
    cpu_only: bool = setting(
        False,
        "MEDIAQ_CPU_ONLY",
        "a deployment without GPUs: GPU job types default to the `cpu` class (the demo "
        "follows it). Unset, `mediaq enqueue` follows what a GPU-less `mediaq up` recorded "
        "for the fleet",
    )
    fetch_allow_private: bool = setting(
        False,
        "MEDIAQ_FETCH_ALLOW_PRIVATE",
        "let `fetch` download from internal addresses (off: SSRF guard)",
    )
    # timing
    heartbeat_interval_s: float = setting(
        5.0, "MEDIAQ_HEARTBEAT_INTERVAL", "host and job heartbeats"
    )
    heartbeat_timeout_s: float = setting(
        30.0, "MEDIAQ_HEARTBEAT_TIMEOUT", "a running job silent this long is rescued"
    )
    claim_timeout_s: float = setting(
        30.0, "MEDIAQ_CLAIM_TIMEOUT", "a queued job unclaimed this long is published again"
    )
    host_timeout_s: float = setting(
        20.0, "MEDIAQ_HOST_TIMEOUT", "a host silent this long gets no new work"
    )
    scheduler_tick_s: float = setting(
        1.0,
        "MEDIAQ_SCHEDULER_TICK",
        "refresh period of reasons, rescue and periodic work",
        flag="--tick",
    )
    cancel_poll_s: float = setting(
        1.0, "MEDIAQ_CANCEL_POLL", "how often a running job checks for cancellation"
    )
    # admission
    vram_margin_mib: int = setting(512, "MEDIAQ_VRAM_MARGIN_MIB", "VRAM kept free on every GPU")
    lookahead: int = setting(
        8,
        "MEDIAQ_LOOKAHEAD",
        "extra queued CPU jobs beyond free slots; a job more urgent than messages already "
        "in the broker is admitted past them (they do not count against it)",
    )
    log_max_chars: int = setting(
        65536,
        "MEDIAQ_LOG_MAX_CHARS",
        "a job log keeps its last this many characters",
        minimum=256,
    )
    view_window_s: int = setting(
        1800,
        "MEDIAQ_VIEW_WINDOW",
        "a session's view of a video counts once per window",
        minimum=1,
    )
    json_logs: bool = setting(
        False, "MEDIAQ_JSON_LOGS", "one JSON object per log line", flag="--json-logs"
    )
    queue_prefix: str = setting(
        "mediaq", "MEDIAQ_QUEUE_PREFIX", "broker queue names and Redis counter keys"
    )
    # retention
    retain_completed_days: int = setting(
        7,
        "MEDIAQ_RETAIN_COMPLETED_DAYS",
        "completed jobs are deleted this many days after they ended (0 keeps them forever)",
    )
    retain_failed_days: int = setting(30, "MEDIAQ_RETAIN_FAILED_DAYS", "the same for failed jobs")
    retain_cancelled_days: int = setting(
        7, "MEDIAQ_RETAIN_CANCELLED_DAYS", "the same for cancelled jobs"
    )
    # public writes (api_shim/guard.py): "N/period", several joined by ";" (the `limits`
    # library's notation); a request over any of them gets 429 with Retry-After
    rate_limits: bool = setting(
        True, "MEDIAQ_RATE_LIMITS", "`false` turns every public-write limit below off"
    )
    limit_vote_address: str = setting(
        "30/minute;300/hour",
        "MEDIAQ_LIMIT_VOTE_ADDRESS",
        "upvotes and their removal, per client address",
        check=parse_limits,
    )
    limit_vote_session: str = setting(
        "10/minute", "MEDIAQ_LIMIT_VOTE_SESSION", "the same, per session", check=parse_limits
    )
    limit_view_address: str = setting(
        "120/minute",
        "MEDIAQ_LIMIT_VIEW_ADDRESS",
        "the player's view reports, per client address",
        check=parse_limits,
    )
    limit_view_session: str = setting(
        "20/minute", "MEDIAQ_LIMIT_VIEW_SESSION", "the same, per session", check=parse_limits
    )
    limit_play_address: str = setting(
        "300/minute",
        "MEDIAQ_LIMIT_PLAY_ADDRESS",
        "finish and watch-time reports, per client address",
        check=parse_limits,
    )
    limit_play_session: str = setting(
        "60/minute", "MEDIAQ_LIMIT_PLAY_SESSION", "the same, per session", check=parse_limits
    )
    limit_comment_address: str = setting(
        "10/minute;100/hour",
        "MEDIAQ_LIMIT_COMMENT_ADDRESS",
        "comments, per client address",
        check=parse_limits,
    )
    limit_comment_session: str = setting(
        "3/minute;30/hour",
        "MEDIAQ_LIMIT_COMMENT_SESSION",
        "the same, per session (per user when signed in)",
        check=parse_limits,
    )
    limit_reaction_address: str = setting(
        "60/minute",
        "MEDIAQ_LIMIT_REACTION_ADDRESS",
        "reactions, per client address",
        check=parse_limits,
    )
    limit_reaction_session: str = setting(
        "20/minute", "MEDIAQ_LIMIT_REACTION_SESSION", "the same, per user", check=parse_limits
    )
    sessions_per_address: int = setting(
        20,
        "MEDIAQ_SESSIONS_PER_ADDRESS",
        "distinct sessions one address may vote or count views with per window (`0`: unbounded)",
    )
    sessions_window_s: int = setting(3600, "MEDIAQ_SESSIONS_WINDOW", "that window", minimum=1)
    comment_repeat_window_s: int = setting(
        600,
        "MEDIAQ_COMMENT_REPEAT_WINDOW",
        "the same comment body again from a session or address is refused this long",
    )
    view_min_play_s: int = setting(
        5,
        "MEDIAQ_VIEW_MIN_PLAY",
        "play needed before the player's view counts (the whole clip if shorter)",
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "MEDIAQ_TRUSTED_PROXIES",
        "addresses or networks of reverse proxies whose `X-Forwarded-For` names the client; "
        "from anyone else the header is ignored",
        check=check_networks,
    )

    def __post_init__(self) -> None:
        # the plain ``postgresql://`` form selects the psycopg 3 driver, however it was given
        object.__setattr__(self, "database_url", normalize_database_url(self.database_url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from an environment mapping (``os.environ`` when None).

        A variable set to the empty string counts as unset, except a true/false one, where
        it means false. A malformed value is a ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f, declared in declarations():
            raw = env.get(declared.env)
            if raw is None or (raw == "" and field_type(f.name) is not bool):
                continue
            values[f.name] = parse_value(f.name, raw)
        values.update(overrides)
        return cls(**values).validated()

    def __repr__(self) -> str:
        """Every field but the secrets, with the passwords of the URLs masked."""
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
        """Return self when every declared check passes, or raise ConfigError."""
        for f, declared in declarations():
            if declared.check is not None:
                declared.check(declared.env, getattr(self, f.name))
        return self

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced (CLI flags use this); ``None`` means not given."""
        known = {f.name for f in fields(self)}
        given = {k: v for k, v in overrides.items() if k in known and v is not None}
        return replace(self, **given).validated()


def declarations() -> Iterator[tuple[Field[Any], Declared]]:
    """Each settings field with its declaration, in declaration order."""
    for f in fields(Settings):
        yield f, f.metadata["setting"]


def declared(field_name: str) -> Declared:
    """The declaration of one settings field."""
    return _by_name()[field_name]


@cache
def _by_name() -> dict[str, Declared]:
    return {f.name: d for f, d in declarations()}


@cache
def field_type(field_name: str) -> Any:
    """The type of a settings field (``int``, ``tuple[str, ...]``, ...)."""
    return get_type_hints(Settings)[field_name]


def parse_value(field_name: str, raw: str) -> Any:
    """The text of a variable or a flag as the field's type, within its declared bounds;
    ConfigError naming the variable otherwise."""
    kind = field_type(field_name)
    d = declared(field_name)
    if kind is bool:
        return _as_bool(d.env, raw)
    if kind is int:
        return _as_int(d.env, raw, d.minimum)
    if kind is float:
        return _as_float(d.env, raw)
    if kind == tuple[int, ...]:
        return tuple(_as_int(d.env, part, d.minimum) for part in _as_list(raw))
    if kind == tuple[str, ...]:
        return _as_list(raw)
    return raw


def env_name(field_name: str) -> str:
    """The environment variable of a settings field (``library_root``: ``MEDIAQ_LIBRARY_ROOT``)."""
    return declared(field_name).env


def format_value(value: Any) -> str:
    """A setting's value as its variable spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The environment that rebuilds ``settings`` in a child process (inverse of from_env)."""
    return {d.env: format_value(getattr(settings, f.name)) for f, d in declarations()}
