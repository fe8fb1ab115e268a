"""``mediaq up``: the whole system on one machine, in one process tree, for trying it out.

It checks that PostgreSQL and Redis answer (and says exactly what it tried and how to start
them when they do not), migrates the database, then runs the API, the scheduler, a worker
daemon and Flower as children (``mediaq.proctree``). Ctrl-C or SIGTERM stops them all,
Celery workers and job subprocesses included. Jobs that were running when the tree stopped
keep their ``running`` row; the scheduler of the next start finds their heartbeat stale and
retries them (SPEC §3 rescue), so nothing is lost and nothing runs twice.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
import redis
from sqlalchemy import text

from mediaq.errors import ConfigError
from mediaq.proctree import ProcessTree
from mediaq.settings import Settings, env_name, mask_url, settings_to_env
from ops.hints import mediaq_command

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0
SERVICES = ("api", "scheduler", "worker", "flower")


@dataclass(frozen=True)
class UpOptions:
    flower_port: int = 5555
    flower: bool = True
    worker: bool = True
    demo_follows: bool = False  # scripts/up runs the demo itself once the API answers
    stop_grace_s: float = STOP_GRACE_S


@dataclass(frozen=True)
class Unreachable:
    """A service that did not answer: what was tried and what came back."""

    service: str  # "PostgreSQL" | "Redis"
    setting: str  # the variable it came from
    url: str  # with the password masked
    error: str


# ---- pure ------------------------------------------------------------------------------------
def unreachable_message(problems: list[Unreachable]) -> str:
    """What ``mediaq up`` tried, what failed, and how to start the missing services."""
    lines = ["cannot start: a service mediaq needs does not answer."]
    for p in problems:
        lines.append(f"  {p.service}: tried {p.url} (from {p.setting}): {p.error}")
    lines += [
        "Start them, then run `mediaq up` again:",
        "  with Docker:  docker compose up -d postgres redis   (docker-compose.yml in the repo;",
        "                it publishes 5432 and 6379 on 127.0.0.1 with the passwords of .env:",
        "                DATABASE_URL=postgresql://mediaq:$POSTGRES_PASSWORD@127.0.0.1:5432/mediaq",
        "                REDIS_URL=redis://:$REDIS_PASSWORD@127.0.0.1:6379/0)",
        "  on Debian/Ubuntu:  sudo apt-get install postgresql redis-server &&"
        " sudo systemctl start postgresql redis-server",
        "  by hand:  pg_ctlcluster <version> main start;  redis-server --daemonize yes",
        "or point DATABASE_URL / REDIS_URL (or --database-url / --redis-url) at running ones.",
    ]
    return "\n".join(lines)


def prepare_settings(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Settings for a one-machine run, plus notes on what was chosen for the operator.

    ``mediaq up`` exists to try the system, so the API is enabled unless the environment
    turns it off explicitly, and a missing JWT secret is replaced by one made for this run.
    """
    notes: list[str] = []
    enable = env_name("enable_media_features")
    if enable in environ and not settings.enable_media_features:
        raise ConfigError(
            f"{enable} is set to false: the media API is opt-in, so `mediaq up`"
            f" will not start it. Set {enable}=true (or unset it) to run it."
        )
    settings = dataclasses.replace(settings, enable_media_features=True)
    if not settings.jwt_secret:
        settings = dataclasses.replace(settings, jwt_secret=secrets.token_urlsafe(32))
        notes.append(
            "JWT_SECRET is not set: made one for this run (tokens stop working on restart)"
        )
    return settings, notes


def gpu_routing(
    settings: Settings, environ: Mapping[str, str], has_gpu: bool
) -> tuple[Settings, str | None]:
    """Where GPU job types run on this one-machine system, and a note saying so (pure).

    Without a GPU, GPU job types run on the CPU (software encoding) unless the environment
    says ``MEDIAQ_CPU_ONLY=false``; with one, they go to the GPU unless it says ``true``.
    """
    var = env_name("cpu_only")
    if var in environ:
        if not has_gpu and not settings.cpu_only:
            return settings, (
                f"no GPU on this machine and {var}=false: GPU job types wait (NO_WORKERS)"
                " until a GPU worker host joins"
            )
        return settings, None
    if has_gpu:
        return dataclasses.replace(settings, cpu_only=False), None
    return dataclasses.replace(settings, cpu_only=True), (
        f"no GPU on this machine: GPU job types run on the CPU with libx264 ({var}=true);"
        f" set {var}=false to keep them for GPU worker hosts"
    )


def has_gpu(settings: Settings) -> bool:
    """A GPU the worker of this tree would use (fake GPUs count)."""
    from workers.nvml_real import nvml_available

    return bool(settings.fake_gpus) or nvml_available()


def record_gpu_routing(settings: Settings) -> None:
    """Tell the fleet (``fleet_settings``), so ``mediaq enqueue`` elsewhere routes the same."""
    from mediaq.db import engine_for
    from mediaq.fleetsettings import CPU_ONLY, write_setting

    with engine_for(settings.database_url).begin() as conn:
        write_setting(conn, CPU_ONLY, "true" if settings.cpu_only else "false")


def service_argv(name: str, options: UpOptions, python: str = sys.executable) -> list[str]:
    """The command line of one service of the tree (every service is a ``mediaq`` command)."""
    argv = [python, "-m", "ops.cli", name]
    if name == "flower":
        argv += [f"--port={options.flower_port}", "--address=127.0.0.1"]
    return argv


def service_env(name: str) -> dict[str, str]:
    """Extra environment of one service."""
    if name == "flower":
        # Flower 2 refuses its HTTP API without a login unless told otherwise; here it
        # listens on the loopback only (docs/operations.md says how to add basic auth).
        return {"FLOWER_UNAUTHENTICATED_API": "true"}
    return {}


def services(options: UpOptions) -> list[str]:
    return [
        s
        for s in SERVICES
        if (s != "flower" or options.flower) and (s != "worker" or options.worker)
    ]


def local_host(settings: Settings) -> str:
    """The host name to print in URLs (a wildcard bind is reached through the loopback)."""
    return "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host


def banner(settings: Settings, options: UpOptions, token: str | None) -> str:
    """The lines printed once everything answers."""
    base = f"http://{local_host(settings)}:{settings.api_port}"
    dash = f"{base}/admin/queue" + (f"#token={token}" if token else "")
    lines = [
        "mediaq is up:",
        f"  API        {base}/health",
        f"  dashboard  {dash}",
        f"  gallery    {base}/gallery",
        f"  JSON       {base}/api/media/public",
        f"  metrics    {base}/metrics",
    ]
    if options.flower:
        lines.append(f"  Flower     http://127.0.0.1:{options.flower_port}/")
    if token:
        lines.append(f"  admin token (24 h): {token}")
    if settings.cpu_only:
        lines.append(
            "  no GPU: GPU job types run on the CPU (MEDIAQ_CPU_ONLY=false to wait for one)"
        )
    mediaq = mediaq_command()
    if options.demo_follows:
        lines.append(f"The demo starts now; afterwards `{mediaq} jobs` lists the jobs.")
    else:
        lines.append(f"Try `{mediaq} demo` in another terminal.")
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)


# ---- checks (I/O) ------------------------------------------------------------------------
def check_services(settings: Settings, timeout_s: float = 3.0) -> list[Unreachable]:
    """Try PostgreSQL and Redis once each; return what did not answer."""
    problems: list[Unreachable] = []
    plain_url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(plain_url, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        var = env_name("database_url")
        problems.append(Unreachable("PostgreSQL", var, mask_url(plain_url), error))
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        var = env_name("redis_url")
        problems.append(Unreachable("Redis", var, mask_url(settings.redis_url), str(exc)))
    finally:
        client.close()
    return problems


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def check_ports(settings: Settings, options: UpOptions) -> None:
    """Refuse to start when the API or Flower port is already taken (another `up`?)."""
    wanted = [("API", settings.api_port)]
    if options.flower:
        wanted.append(("Flower", options.flower_port))
    for what, port in wanted:
        if port_in_use("127.0.0.1", port):
            raise ConfigError(
                f"port {port} for the {what} is already in use (another `mediaq up`?);"
                f" stop it or pick another port"
                + (" with --port" if what == "API" else " with --flower-port")
            )


def in_flight_note(settings: Settings) -> str | None:
    """Say how many jobs this host left running last time (the scheduler rescues them)."""
    from mediaq.db import engine_for

    with engine_for(settings.database_url).connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM jobs WHERE status = 'running' AND assigned_host = :h"),
            {"h": settings.host_name},
        ).scalar_one()
    if not n:
        return None
    return (
        f"{n} job(s) were running on {settings.host_name} when mediaq last stopped; the"
        f" scheduler retries them once their heartbeat is {settings.heartbeat_timeout_s:.0f} s"
        " old"
    )


def wait_until_ready(settings: Settings, tree: ProcessTree, stop: threading.Event) -> bool:
    """Until the API answers /health (False if a child died or time ran out)."""
    url = f"http://{local_host(settings)}:{settings.api_port}/health"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not stop.is_set() and time.monotonic() < deadline:
        if tree.exited():
            return False
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(0.25)
    return False


# ---- the command -----------------------------------------------------------------------------
def run_up(
    settings: Settings, options: UpOptions, stop: threading.Event, environ: Mapping[str, str]
) -> int:
    """Check, migrate, start the tree, wait for a stop signal or a dead child, stop it all."""
    settings, notes = prepare_settings(settings, environ)
    problems = check_services(settings)
    if problems:
        print(f"mediaq up: {unreachable_message(problems)}", file=sys.stderr)
        return 2
    check_ports(settings, options)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line says it is done
    from mediaq.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    notes.append("database migrated to the newest schema")
    settings, routing = gpu_routing(settings, environ, has_gpu(settings))
    record_gpu_routing(settings)
    if routing:
        notes.append(routing)
    note = in_flight_note(settings)
    if note:
        notes.append(note)
    for line in notes:
        log.info("%s", line)
    env = dict(environ) | settings_to_env(settings) | {"PYTHONUNBUFFERED": "1"}
    tree = ProcessTree()
    code = 0
    try:
        for name in services(options):
            tree.start(name, service_argv(name, options), env | service_env(name))
        if wait_until_ready(settings, tree, stop):
            print(banner(settings, options, _admin_token(settings)), flush=True)
        elif not stop.is_set() and not tree.exited():
            log.warning("the API did not answer within %.0f s; still waiting", READY_TIMEOUT_S)
        code = _watch(tree, stop)
    finally:
        log.info("stopping: %s", ", ".join(c.name for c in tree.children))
        left = tree.stop(options.stop_grace_s)
        if left:
            log.error("processes still alive after stopping: %s", left)
            code = code or 1
        log.info("mediaq stopped")
    return code


def _watch(tree: ProcessTree, stop: threading.Event) -> int:
    """Until a stop signal (0) or a child that exits on its own (1: the tree goes down)."""
    while not stop.wait(0.5):
        tree.reap_orphans()
        dead = tree.exited()
        if dead:
            for child in dead:
                assert child.proc is not None
                log.error(
                    "%s exited with code %s; stopping the rest", child.name, child.proc.returncode
                )
            return 1
    return 0


def _admin_token(settings: Settings) -> str | None:
    from api_shim.auth import mint_token

    if not settings.jwt_secret:
        return None
    return mint_token(settings, 1, settings.admin_roles[0], 24 * 3600)
