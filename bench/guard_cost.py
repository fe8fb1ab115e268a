"""What the public-write guards cost: req/s with the limits on and off, in the same run.

    flock /tmp/mediaq-bench.lock .venv/bin/python -m bench.guard_cost [--runs 3] [--seconds 10]

Builds database ``bench_guard`` (the gallery bench's 100,000 rows) and starts two ``mediaq api``
processes behind the same "proxy" settings (``MEDIAQ_TRUSTED_PROXIES=127.0.0.1``): one with
``MEDIAQ_RATE_LIMITS=false``, one with the production default limits. wrk (-t2 -c64) then runs
each target against both, alternating which goes first from run to run, and prints req/s (median of
the runs), p99 and the non-2xx count:

- ``gallery``: ``GET /api/media/public?category=cat3&sort=popular&limit=24`` (no guard on it);
- ``media+view``: ``GET /api/media/public/ID?sessionId=<fresh>`` over 1,000 items, each request
  from its own client address (``X-Forwarded-For``): the view goes through the session bound;
- ``upvote``: ``POST .../upvote`` with a fresh session from a fresh address over 1,000 items:
  every request passes the rate limits and the session bound and inserts a row;
- ``upvote, one address``: the same from a single address: after the first few, every request
  is refused (429) by the limits, the cost of turning a flood away.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

from bench.apibench import WrkResult, api_process, build_gallery_db, db_url, run_wrk

LUA = str(Path(__file__).with_name("guard_clients.lua"))
PROXY = {"MEDIAQ_TRUSTED_PROXIES": "127.0.0.1"}
MODES = {
    "off": PROXY | {"MEDIAQ_RATE_LIMITS": "false"},
    "on": PROXY | {"MEDIAQ_RATE_LIMITS": "true"},
}


def _ids(url: str) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM public_media WHERE NOT is_locked ORDER BY id LIMIT 1000"
        ).fetchall()
    return ",".join(str(r[0]) for r in rows)


def _summary(results: list[WrkResult]) -> str:
    rps = statistics.median(r.rps for r in results)
    p99 = statistics.median(r.p99_ms for r in results)
    runs = ", ".join(f"{r.rps:.0f}" for r in results)
    refused = sum(r.non_2xx for r in results)
    errors = sum(r.errors for r in results)  # wrk's socket errors: mostly its 2 s timeout
    return (
        f"{rps:7.0f} req/s  p99 {p99:7.1f} ms  (runs {runs}; non-2xx {refused}; timeouts {errors})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--port", type=int, default=4191)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench_guard")
    args = parser.parse_args()
    if args.reuse:  # the rows stay; the schema follows the code
        url = db_url("bench_guard")
        subprocess.run(
            [sys.executable, "-m", "ops.cli", "migrate", "--database-url", url], check=True
        )
    else:
        url = build_gallery_db("bench_guard")
    ids = _ids(url)
    targets = {
        "gallery": ("/api/media/public?category=cat3&sort=popular&limit=24", None),
        "media+view": ("/api/media/public/1", ["view", "spread", ids]),
        "upvote": ("/api/media/public/1/upvote", ["upvote", "spread", ids]),
        "upvote, one address": ("/api/media/public/1/upvote", ["upvote", "one", ids]),
    }
    results: dict[tuple[str, str], list[WrkResult]] = {}
    with (
        api_process(url, args.port, "mqguardoff", MODES["off"]) as off,
        api_process(url, args.port + 1, "mqguardon", MODES["on"]) as on,
    ):
        bases = {"off": off, "on": on}
        for path, extra in targets.values():  # warm up: prepared statements, scripts
            for base in bases.values():
                run_wrk(base + path, seconds=2, script=LUA if extra else None, script_args=extra)
        for run in range(args.runs):
            order = ("off", "on") if run % 2 == 0 else ("on", "off")  # neither always first
            for name, (path, extra) in targets.items():
                for mode in order:
                    base = bases[mode]
                    result = run_wrk(
                        base + path,
                        seconds=args.seconds,
                        script=LUA if extra else None,
                        script_args=extra,
                    )
                    results.setdefault((name, mode), []).append(result)
    for name in targets:
        off_rps = statistics.median(r.rps for r in results[(name, "off")])
        on_rps = statistics.median(r.rps for r in results[(name, "on")])
        print(f"{name:20s} limits off {_summary(results[(name, 'off')])}")
        print(f"{'':20s} limits on  {_summary(results[(name, 'on')])}")
        print(f"{'':20s} on/off = {on_rps / off_rps:.2f}", flush=True)


if __name__ == "__main__":
    main()
