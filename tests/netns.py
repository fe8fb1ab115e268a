"""A worker host of its own for tests: a network namespace joined to this machine by a veth
pair, and scratch PostgreSQL and Redis with passwords listening on this side of the pair.

A process started with ``Netns.argv(...)`` has its own network stack: it reaches the scratch
services only at ``Netns.host_ip`` (the central host, as a GPU host would over the fleet's
private network), never the machine's shared services on 127.0.0.1. The file system is
shared, as a mounted library would be. Everything is torn down on close; nothing of the
machine's own PostgreSQL or Redis is touched.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

_PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
PG_BIN = _PG_BINS[-1] if _PG_BINS else Path("/usr/bin")


def _run(*argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def netns_available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return "network namespaces need root and iproute2"
    probe = f"mqprobe{uuid.uuid4().hex[:6]}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"ip netns add failed: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Netns:
    """``ip netns`` with a /30 veth link: ``host_ip`` on this side, ``ns_ip`` inside."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"mqw-{tag}"
        self.host_if, self.ns_if = f"mqv{tag}h", f"mqv{tag}n"
        prefix = f"10.{random.randrange(1, 250)}.{random.randrange(0, 250)}"
        self.host_ip, self.ns_ip = f"{prefix}.1", f"{prefix}.2"
        _run("ip", "netns", "add", self.name)
        try:
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            for cmd in (
                ("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if),
                ("ip", "link", "set", self.ns_if, "up"),
                ("ip", "link", "set", "lo", "up"),
            ):
                _run("ip", "netns", "exec", self.name, *cmd)
        except Exception:
            self.close()
            raise

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class ScratchPostgres:
    """A throwaway PostgreSQL cluster: SCRAM passwords for every TCP client."""

    def __init__(self, listen: tuple[str, ...]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mq-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port("127.0.0.1")
        self.password = secrets.token_urlsafe(16)
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password)
        shutil.chown(pwfile, "postgres")
        as_pg = ("runuser", "-u", "postgres", "--")
        _run(
            *as_pg,
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "mediaq",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            f"--pwfile={pwfile}",
            "--no-sync",
        )
        pwfile.unlink()
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 10.0.0.0/8 scram-sha-256\n")
        options = (
            f"-c listen_addresses='{','.join(listen)}' -p {self.port} "
            f"-c unix_socket_directories='{self.dir}' -c fsync=off -c max_connections=200"
        )
        _run(
            *as_pg,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        _run(
            *as_pg,
            str(PG_BIN / "createdb"),
            "-h",
            str(self.dir),
            "-p",
            str(self.port),
            "-U",
            "mediaq",
            "mediaq",
        )

    def url(self, host: str, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://mediaq:{pw}@{host}:{self.port}/mediaq"

    def close(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class ScratchRedis:
    """A throwaway Redis with ``requirepass`` (from a config file, not the command line)."""

    def __init__(self, listen: tuple[str, ...]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mq-redis-"))
        self.port = free_port("127.0.0.1")
        self.password = secrets.token_urlsafe(16)
        conf = self.dir / "redis.conf"
        conf.write_text(
            f'requirepass "{self.password}"\nbind {" ".join(listen)}\nport {self.port}\n'
            f'save ""\nappendonly no\ndir {self.dir}\n'
        )
        conf.chmod(0o600)
        self.proc = subprocess.Popen(
            ["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("scratch redis did not start")
            time.sleep(0.05)

    def url(self, host: str) -> str:
        return f"redis://:{self.password}@{host}:{self.port}/0"

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def worker_host_network() -> Iterator[tuple[Netns, ScratchPostgres, ScratchRedis]]:
    """A namespace for one worker host and the password-protected services it must use."""
    ns = Netns()
    pg: ScratchPostgres | None = None
    redis: ScratchRedis | None = None
    try:
        listen = ("127.0.0.1", ns.host_ip)
        pg = ScratchPostgres(listen)
        redis = ScratchRedis(listen)
        yield ns, pg, redis
    finally:
        if redis is not None:
            redis.close()
        if pg is not None:
            pg.close()
        ns.close()
