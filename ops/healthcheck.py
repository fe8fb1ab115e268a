"""Container health checks: ``python -m ops.healthcheck ROLE`` exits 0 when healthy.

Each role is checked by what it promises, not by "the process exists":

- ``api``: ``GET /health`` answers 200 on the API port;
- ``scheduler``: the database answers and *some* scheduler holds the leader lock (a standby
  replica is healthy while another leads);
- ``worker``: this host's heartbeat row is fresh (the daemon runs, reaches the database and
  its NVML sampling works);
- ``flower``: Flower's own ``/healthcheck`` answers;
- ``migrate``: the database answers (the one-shot service only runs while migrating).
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Callable, Sequence

import psycopg

from mediaq.settings import Settings

TIMEOUT_S = 3


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _query(settings: Settings, sql: str, *params: object) -> object:
    with psycopg.connect(_plain(settings.database_url), connect_timeout=TIMEOUT_S) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return bool(response.status == 200)


def check_api(settings: Settings) -> bool:
    return _http_ok(f"http://127.0.0.1:{settings.api_port}/health")


def check_scheduler(settings: Settings) -> bool:
    from scheduler.service import LEADER_LOCK

    # A one-number advisory lock shows as classid = high 32 bits, objid = low, objsubid 1.
    leaders = _query(
        settings,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = %s AND objid = %s AND objsubid = 1"
        # advisory locks are per database: another fleet's scheduler on the server is not ours
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LEADER_LOCK >> 32,
        LEADER_LOCK & 0xFFFF_FFFF,
    )
    return bool(leaders)


def check_worker(settings: Settings) -> bool:
    fresh = _query(
        settings,
        "SELECT last_seen > now() - make_interval(secs => %s) FROM worker_hosts WHERE name = %s",
        settings.host_timeout_s,
        settings.host_name,
    )
    return fresh is True


def check_flower(settings: Settings, port: int = 5555) -> bool:
    return _http_ok(f"http://127.0.0.1:{port}/healthcheck")


def check_migrate(settings: Settings) -> bool:
    return _query(settings, "SELECT 1") == 1


CHECKS: dict[str, Callable[[Settings], bool]] = {
    "api": check_api,
    "scheduler": check_scheduler,
    "worker": check_worker,
    "flower": check_flower,
    "migrate": check_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in CHECKS:
        print(f"usage: python -m ops.healthcheck {{{','.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        healthy = CHECKS[args[0]](Settings.from_env())
    except psycopg.Error as exc:  # name the dependency that is down
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{args[0]}: unhealthy: database unreachable: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:  # any failure to check is "unhealthy", with the reason shown
        print(f"{args[0]}: unhealthy: {exc}", file=sys.stderr)
        return 1
    print(f"{args[0]}: {'healthy' if healthy else 'unhealthy'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
