"""Shared pieces of the API benches: the 100k-row gallery database, the API process, wrk.

The rows are the peer's (``shared/peers/fastify-gallery/schema.sql``): the same generator with
``setseed(0.42)``, loaded into mediaq's own schema (migrated to head, so with mediaq's gallery
indexes and counts table). ``wrk`` must be installed (``apt-get install -y wrk``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

FILL_SQL = """
SELECT setseed(0.42);
INSERT INTO public_media (path, filename, category, duration_seconds, quality, orientation,
  thumbnail_path, file_size, view_count, upvote_count, comment_count, finish_count,
  total_watch_time, is_locked, locked_at, locked_reason, created_at, updated_at)
SELECT '/media/cat' || (g % 10) || '/video_' || g || '.mp4',
       'video_' || g || '.mp4',
       'cat' || (g % 10),
       (5 + random() * 3600)::int,
       (ARRAY['480p','720p','1080p','2160p'])[1 + floor(random() * 4)::int],
       (ARRAY['landscape','portrait','square'])[1 + floor(random() * 3)::int],
       '/thumbs/video_' || g || '.jpg',
       (random() * 2e9)::bigint,
       floor(power(random(), 3) * 200000)::int,
       floor(power(random(), 3) * 5000)::int,
       floor(power(random(), 3) * 300)::int,
       floor(power(random(), 3) * 50000)::int,
       floor(power(random(), 3) * 1e7)::int,
       locked,
       CASE WHEN locked THEN ts + random() * interval '30 days' END,
       CASE WHEN locked THEN 'reported' END,
       ts,
       ts + random() * interval '10 days'
FROM (SELECT g, random() < 0.05 AS locked,
             now() - random() * interval '365 days' AS ts
      FROM generate_series(1, 100000) g) s;
"""


def db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def build_gallery_db(name: str) -> str:
    """(Re)create database ``name`` at mediaq's newest schema with the peer's 100k rows."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = db_url(name)
    subprocess.run([sys.executable, "-m", "ops.cli", "migrate", "--database-url", url], check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FILL_SQL)  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE public_media")
    return url


def api_env(database_url: str, port: int, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        MEDIA_API_PORT=str(port),
        MEDIA_API_HOST="127.0.0.1",
        ENABLE_MEDIA_FEATURES="true",
        JWT_SECRET="bench-secret-bench-secret-bench-secret",
        MEDIAQ_QUEUE_PREFIX=prefix,
    )
    return env


@contextmanager
def api_process(
    database_url: str,
    port: int,
    prefix: str = "mqbench",
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``mediaq api`` (one process) on ``port``; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "api"],
        env=api_env(database_url, port, prefix) | (extra_env or {}),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    url: str,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 2,
    script: str | None = None,
    script_args: list[str] | None = None,
) -> WrkResult:
    """Run wrk with latency percentiles and parse its report."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        argv += ["-s", script]
    tail = ["--", *script_args] if script_args else []
    out = subprocess.run([*argv, url, *tail], check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=requests,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(x) for x in errors.groups()) if errors else 0,
    )
