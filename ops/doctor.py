"""``mediaq doctor``: is this host ready to join the fleet? One line per check.

It reads the same settings as ``mediaq worker`` and checks, in order: what NVML sees and a
one-second test encode on each GPU with NVENC and with libx264 (``ops/gpudoctor.py``, which
also runs alone on a host that has only a driver and Python), the ``ffmpeg`` program the
workers run, PostgreSQL and Redis with the configured credentials (passwords masked), the
schema version, this host's clock against the database's, and the library roots (the
fleet's library id, readable, writable). Nothing is changed: no id is written, no root
created.

Each line is ``ok``, ``note`` (worth knowing, nothing to fix) or ``problem`` followed by
what to do. The exit code is 0 when no line is a problem, 1 otherwise.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from mediaq.library import (
    LIBRARY_ID_FILE,
    LIBRARY_ID_SETTING,
    LibraryMismatch,
    check_roots,
    decide,
    read_library_id,
)
from mediaq.settings import Settings, env_name, mask_url
from ops.gpudoctor import NOTE, OK, PROBLEM, Check, exit_code, gpu_report

CONNECT_TIMEOUT_S = 3
CLOCK_TOLERANCE_S = 1.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def plain_database_url(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)


# ---- pure ------------------------------------------------------------------------------------
def clock_check(offset_s: float, round_trip_s: float) -> Check:
    """This host's clock against the database's (heartbeats and timeouts compare them)."""
    detail = (
        f"{offset_s:+.3f} s from the database's clock (round trip {round_trip_s * 1000:.0f} ms)"
    )
    if abs(offset_s) <= CLOCK_TOLERANCE_S + round_trip_s / 2:
        return Check("clock", OK, detail)
    return Check(
        "clock",
        PROBLEM,
        detail,
        "synchronise this host's clock (chrony or systemd-timesyncd) with the database host's",
    )


def library_check(db_id: str | None, file_id: str | None, root: str) -> Check:
    """The fleet's library id against the one in this host's library root."""
    decision = decide(db_id, file_id, root)
    if decision.action == "ok":
        return Check("library id", OK, f"{root} holds the fleet's library {db_id}")
    if decision.action == "refuse":
        head, _, fix = decision.reason.partition(". ")
        return Check("library id", PROBLEM, head, fix)
    if decision.action == "adopt":
        return Check(
            "library id",
            NOTE,
            f"{root} holds library {file_id}; the database has none yet",
            "the first API or worker start records it",
        )
    return Check(
        "library id",
        NOTE,
        f"neither {root} nor the database has a library id yet",
        "the first API or worker start creates it",
    )


# ---- checks (I/O) ------------------------------------------------------------------------------
def ffmpeg_check() -> Check:
    path = shutil.which("ffmpeg")
    if path is None:
        return Check(
            "ffmpeg",
            PROBLEM,
            "the ffmpeg program is not on PATH",
            "install it (Debian: apt-get install ffmpeg); every media job runs it",
        )
    out = subprocess.run([path, "-version"], capture_output=True, text=True, check=False)
    version = out.stdout.splitlines()[0].split(" Copyright")[0] if out.stdout else "version ?"
    return Check("ffmpeg", OK, f"{path}: {version}")


def database_checks(settings: Settings) -> tuple[list[Check], str | None]:
    """Reachability, schema, clock; and the fleet's library id (None when unknown)."""
    url = plain_database_url(settings)
    var = env_name("database_url")
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
    except psycopg.Error as exc:
        return [
            Check(
                "PostgreSQL",
                PROBLEM,
                f"cannot connect to {mask_url(url)} ({var}): {_first_line(exc)}",
                f"start PostgreSQL, or fix {var} (host, port, user, password, sslmode); "
                "a fleet host reaches the central database as docs/fleet.md says",
            )
        ], None
    checks: list[Check] = []
    with conn:
        version = conn.execute("SHOW server_version").fetchone()
        ssl = conn.pgconn.ssl_in_use
        checks.append(
            Check(
                "PostgreSQL",
                OK,
                f"{mask_url(url)}: server {version[0] if version else '?'}, "
                f"{'TLS' if ssl else 'no TLS'}",
            )
        )
        checks.append(_schema_check(conn))
        before = time.time()
        row = conn.execute("SELECT now()").fetchone()
        after = time.time()
        assert row is not None
        db_now: datetime = row[0]
        offset = db_now.timestamp() - (before + after) / 2
        checks.append(clock_check(offset, after - before))
        library_id = None
        if _has_table(conn, "fleet_settings"):
            found = conn.execute(
                "SELECT value FROM fleet_settings WHERE name = %s", (LIBRARY_ID_SETTING,)
            ).fetchone()
            library_id = str(found[0]) if found else None
    return checks, library_id


def _has_table(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def _schema_check(conn: psycopg.Connection) -> Check:
    from alembic.script import ScriptDirectory

    from mediaq.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
    current = None
    if _has_table(conn, "alembic_version"):
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        current = row[0] if row else None
    if current == head:
        return Check("schema", OK, f"at the newest revision {head}")
    return Check(
        "schema",
        PROBLEM,
        f"database at revision {current or 'none'}, this code expects {head}",
        "run `mediaq migrate` once (with the code of the newest host), then start the hosts",
    )


def redis_check(settings: Settings) -> Check:
    var = env_name("redis_url")
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=CONNECT_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
    )
    try:
        info = client.info("server")
    except redis.RedisError as exc:
        return Check(
            "Redis",
            PROBLEM,
            f"cannot use {mask_url(settings.redis_url)} ({var}): {_first_line(exc)}",
            f"start Redis, or fix {var} (rediss:// for TLS, the password after the colon)",
        )
    finally:
        client.close()
    tls = "TLS" if settings.redis_url.startswith("rediss://") else "no TLS"
    return Check(
        "Redis",
        OK,
        f"{mask_url(settings.redis_url)}: server {info.get('redis_version', '?')}, {tls}",
    )


def roots_checks(settings: Settings, db_id: str | None, db_known: bool) -> list[Check]:
    checks: list[Check] = []
    try:
        check_roots(settings, create=False)
    except LibraryMismatch as exc:
        fresh = db_known and db_id is None and not Path(settings.library_root).exists()
        if fresh:  # a fleet not started yet: the first start makes the roots
            checks.append(Check("library roots", NOTE, f"{exc}; the first start creates it"))
        else:
            checks.append(
                Check(
                    "library roots",
                    PROBLEM,
                    str(exc),
                    "every worker host mounts the same library storage as the API, writable "
                    "by the user the worker runs as (docs/fleet.md)",
                )
            )
    else:
        roots = ", ".join(
            str(Path(getattr(settings, f)))
            for f in ("library_root", "public_root", "output_root", "thumbnail_root")
        )
        checks.append(Check("library roots", OK, f"readable and writable: {roots}"))
    root = str(Path(settings.library_root))
    try:
        file_id = read_library_id(Path(root)) if Path(root).is_dir() else None
    except LibraryMismatch as exc:
        return [*checks, Check("library id", PROBLEM, str(exc))]
    if not db_known:
        detail = f"{root} holds {file_id or f'no {LIBRARY_ID_FILE}'}"
        return [*checks, Check("library id", NOTE, f"{detail}; not compared (no database)")]
    return [*checks, library_check(db_id, file_id, root)]


def run_doctor(
    settings: Settings,
    emit: Callable[[Check], None] = lambda c: print(c.line(), flush=True),
    gpu: bool = True,
) -> int:
    """Run every check, print each line as it completes, return the exit code."""
    checks: list[Check] = []

    def add(found: list[Check]) -> None:
        for check in found:
            emit(check)
            checks.append(check)

    logging.getLogger("alembic").setLevel(logging.WARNING)
    emit(Check("host", OK, f"{settings.host_name} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"))
    if gpu:
        add(gpu_report())
    add([ffmpeg_check()])
    db, library_id = database_checks(settings)
    add(db)
    add([redis_check(settings)])
    db_known = db[0].status == OK
    add(roots_checks(settings, library_id, db_known))
    code = exit_code(checks)
    problems = sum(1 for c in checks if c.status == PROBLEM)
    emit(
        Check(
            "summary",
            PROBLEM if code else OK,
            f"{problems} problem(s)" if code else "this host is ready",
        )
    )
    return code
