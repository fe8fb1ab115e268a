"""Gallery throughput: ``GET /api/media/public`` per sort on 100,000 rows, one API process.

    .venv/bin/python -m bench.gallery_load [--runs 3] [--seconds 10] [--peer]

Builds database ``bench_gallery`` (mediaq schema + the peer's rows), starts ``mediaq api`` and
runs wrk (-t2 -c64) against ``?category=cat3&sort=S&limit=24`` for every sort, printing req/s,
p50 and p99 (median of the runs). ``--peer`` also runs the seed-stack peer
(``shared/peers/fastify-gallery/run``, seed indexes) on port 8000 for the popular query.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
from pathlib import Path

from bench.apibench import api_process, build_gallery_db, run_wrk, wait_http

SORTS = ("popular", "recent", "most_viewed")
PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "fastify-gallery" / "run"


def measure(url: str, runs: int, seconds: int) -> str:
    results = [run_wrk(url, seconds=seconds) for _ in range(runs)]
    rps = statistics.median(r.rps for r in results)
    p50 = statistics.median(r.p50_ms for r in results)
    p99 = statistics.median(r.p99_ms for r in results)
    bad = sum(r.non_2xx + r.errors for r in results)
    runs_text = ", ".join(f"{r.rps:.0f}" for r in results)
    return f"{rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (runs: {runs_text}; bad {bad})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--port", type=int, default=4190)
    parser.add_argument("--peer", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench_gallery")
    args = parser.parse_args()
    url = build_gallery_db("bench_gallery") if not args.reuse else None
    from bench.apibench import db_url

    url = url or db_url("bench_gallery")
    with api_process(url, args.port) as base:
        for sort in SORTS:
            target = f"{base}/api/media/public?category=cat3&sort={sort}&limit=24"
            run_wrk(target, seconds=2)  # warm up: prepared statements, caches
            print(f"mediaq {sort:12s}", measure(target, args.runs, args.seconds), flush=True)
    if args.peer:
        env = dict(os.environ, PORT="8000")
        peer = subprocess.Popen([str(PEER)], env=env, start_new_session=True)
        try:
            wait_http("http://127.0.0.1:8000/health", timeout=180)
            for sort in ("popular", "recent"):
                target = (
                    f"http://127.0.0.1:8000/api/media/public?category=cat3&sort={sort}&limit=24"
                )
                run_wrk(target, seconds=2)
                print(f"peer   {sort:12s}", measure(target, args.runs, args.seconds), flush=True)
        finally:
            os.killpg(peer.pid, signal.SIGTERM)
            peer.wait(timeout=20)


if __name__ == "__main__":
    main()
