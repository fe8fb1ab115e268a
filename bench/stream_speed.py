"""Streaming throughput: one ``mediaq api`` process beside nginx serving the same file.

    .venv/bin/python -m bench.stream_speed [--size-mb 200] [--runs 3] [--seconds 10]

Writes a file of random bytes into a scratch gallery root, registers it as a gallery item in
database ``bench_stream``, starts ``mediaq api`` (one process) and nginx (Debian's package,
``worker_processes 1``, ``sendfile on``) serving that root as plain static files, then
measures, alternating between the two:

- the whole file: ``curl`` downloads to /dev/null, MB/s (median of the runs);
- random 1 MiB ranges: ``wrk -t2 -c8`` with ``bench/ranges.lua``, requests/s and MB/s.

It prints each figure and mediaq's as a ratio of nginx's. Run it on a quiet machine
(``flock /tmp/mediaq-bench.lock ...`` where benches share one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bench.apibench import ADMIN_URL, api_process, db_url, run_wrk, wait_http

HERE = Path(__file__).resolve().parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
{user}
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/client;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /files/ {{ alias {root}/; }}
    }}
}}
"""


def make_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
        out.write(block[: size % len(block)])


def build_db(name: str, path: Path, size: int) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = db_url(name)
    import sys

    subprocess.run([sys.executable, "-m", "ops.cli", "migrate", "--database-url", url], check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO public_media (path, filename, category, file_size) "
            "VALUES (%s, %s, 'videos', %s)",
            (str(path), path.name, size),
        )
    return url


def curl_mb_s(url: str) -> float:
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--api-port", type=int, default=4191)
    parser.add_argument("--nginx-port", type=int, default=4192)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="mediaq-stream-") as tmp:
        os.chmod(tmp, 0o755)
        root = Path(tmp) / "public"
        big = root / "videos" / "big.mp4"
        make_file(big, size)
        url = build_db("bench_stream", big, size)
        work = Path(tmp) / "nginx"
        for sub in ("", "client", "proxy", "fastcgi", "uwsgi", "scgi"):
            (work / sub).mkdir(exist_ok=True)
        conf = work / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(work=work, port=args.nginx_port, root=root, user=user))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(work), "-g", "daemon off;"])
        extra = {"MEDIAQ_PUBLIC_ROOT": str(root), "MEDIAQ_THUMBNAIL_ROOT": str(Path(tmp) / "t")}
        try:
            with api_process(url, args.api_port, "mqstream", extra) as api:
                ours = f"{api}/api/media/public/1/stream"
                theirs = f"http://127.0.0.1:{args.nginx_port}/files/videos/big.mp4"
                wait_http(theirs)
                print(f"file: {args.size_mb} MiB; load before: {os.getloadavg()[0]:.2f}")
                big_ours, big_theirs = [], []
                for _ in range(args.runs):
                    big_ours.append(curl_mb_s(ours))
                    big_theirs.append(curl_mb_s(theirs))
                a, b = statistics.median(big_ours), statistics.median(big_theirs)
                print(
                    f"whole file   mediaq {a:8.0f} MB/s   nginx {b:8.0f} MB/s   "
                    f"ratio {a / b:.2f}   (runs: mediaq {[round(x) for x in big_ours]}, "
                    f"nginx {[round(x) for x in big_theirs]})"
                )
                script = str(HERE / "ranges.lua")
                small_ours, small_theirs = [], []
                for _ in range(args.runs):
                    for target, out in ((ours, small_ours), (theirs, small_theirs)):
                        r = run_wrk(target, 8, args.seconds, 2, script, [str(size)])
                        assert r.non_2xx == 0 and r.errors == 0, r
                        out.append(r.rps)
                a, b = statistics.median(small_ours), statistics.median(small_theirs)
                print(
                    f"1 MiB ranges mediaq {a:8.0f} req/s ({a:5.0f} MiB/s)   nginx {b:8.0f} req/s "
                    f"   ratio {a / b:.2f}   (runs: mediaq {[round(x) for x in small_ours]}, "
                    f"nginx {[round(x) for x in small_theirs]})"
                )
                print(f"load after: {os.getloadavg()[0]:.2f}")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


if __name__ == "__main__":
    main()
