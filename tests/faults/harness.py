"""A fleet that fails like real hosts: worker hosts in network namespaces of their own, a
scratch PostgreSQL cluster and a scratch Redis that can be restarted and cut off.

- ``ScratchPostgres``: ``initdb`` into a temporary folder, started with ``pg_ctl`` on a free
  port, listening on loopback and on the root side of every host's veth pair. Restarted,
  stopped and removed by the harness; the machine's own PostgreSQL is never touched.
- ``ScratchRedis``: ``redis-server`` on a free port, no persistence (a restart loses
  everything, as a Redis restart may).
- ``Netns``: ``ip netns`` plus a veth pair (10.213.<n>.1 on the root side, .2 inside). A
  partition takes the root end of the link down (both services) or drops one service's
  port with ``iptables`` inside the namespace; healing undoes it.
- ``FaultFleet``: the whole system on those: two schedulers and the API in the root
  namespace (loopback), worker hosts (``mediaq worker``) inside the namespaces. Every
  process of a host preloads ``clockskew.c`` (built here with ``cc``), so the harness can
  step that host's wall clock while it runs (``Host.skew_clock``).

Everything is removed on exit, failed or not: processes by their pid, namespaces (their
veth pairs go with them), the scratch cluster and Redis, the temporary folders. Names carry
the pid of the test process, so a namespace left by a crashed run is recognised and removed
by the next one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from mediaq.db import dispose_engines, engine_for
from mediaq.migrate import upgrade_to_head
from mediaq.settings import Settings, settings_to_env
from tests.faults.procs import alive, tree

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NS_PREFIX = "mqf"
CLOCK_SHIM = Path(__file__).with_name("clockskew.c")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


# ---- network namespaces -------------------------------------------------------------------
@dataclass
class Netns:
    """One worker host's network: a namespace and a veth pair to the root namespace."""

    index: int
    owner: int = field(default_factory=os.getpid)

    @property
    def name(self) -> str:
        return f"{NS_PREFIX}{self.owner}-{self.index}"

    @property
    def host_if(self) -> str:  # the root end (interface names: at most 15 characters)
        return f"mqf{self.owner % 100000}h{self.index}"

    @property
    def ns_if(self) -> str:
        return f"mqf{self.owner % 100000}n{self.index}"

    @property
    def subnet(self) -> int:
        return (self.owner % 120) * 2 + self.index

    @property
    def host_ip(self) -> str:
        return f"10.213.{self.subnet}.1"

    @property
    def ns_ip(self) -> str:
        return f"10.213.{self.subnet}.2"

    def create(self) -> None:
        run(["ip", "netns", "add", self.name])
        run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if])
        run(["ip", "link", "set", self.ns_if, "netns", self.name])
        run(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if])
        run(["ip", "link", "set", self.host_if, "up"])
        inside = self.exec_prefix()
        run([*inside, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if])
        run([*inside, "ip", "link", "set", self.ns_if, "up"])
        run([*inside, "ip", "link", "set", "lo", "up"])

    def delete(self) -> None:
        run(["ip", "netns", "del", self.name], check=False)  # the veth pair goes with it
        run(["ip", "link", "del", self.host_if], check=False)

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def partition(self, ports: list[int] | None) -> None:
        """Cut the host off: from everything (``None``), or from the given ports only."""
        if ports is None:
            run(["ip", "link", "set", self.host_if, "down"])
            return
        for port in ports:
            run([*self.exec_prefix(), "iptables", "-A", "OUTPUT", "-p", "tcp",
                 "--dport", str(port), "-j", "DROP"])  # fmt: skip

    def heal(self, ports: list[int] | None) -> None:
        if ports is None:
            run(["ip", "link", "set", self.host_if, "up"])
            return
        for port in ports:
            run([*self.exec_prefix(), "iptables", "-D", "OUTPUT", "-p", "tcp",
                 "--dport", str(port), "-j", "DROP"], check=False)  # fmt: skip


def remove_stale_namespaces() -> None:
    """Namespaces of earlier runs whose test process is gone (a crash, a kill -9)."""
    out = run(["ip", "netns", "list"], check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(NS_PREFIX) or "-" not in name:
            continue
        owner = name[len(NS_PREFIX) :].split("-")[0]
        if owner.isdigit() and not alive(int(owner)):
            run(["ip", "netns", "del", name], check=False)


# ---- scratch services ---------------------------------------------------------------------
class ScratchPostgres:
    """A PostgreSQL 15 cluster of the harness's own."""

    def __init__(self, root: Path, listen: list[str]) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.listen = listen
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres", "postgres")

    def _as_postgres(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return run(["runuser", "-u", "postgres", "--", *argv])

    def init(self) -> None:
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        conf = self.data / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                f"listen_addresses = '{','.join(self.listen)}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
                "shared_buffers = 32MB\n"
            )
        with (self.data / "pg_hba.conf").open("a") as fh:
            # reachable only on loopback and the harness's own veth addresses
            fh.write("host all all 0.0.0.0/0 trust\n")
        self.start()

    def start(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),
             "-m", mode, "-w", "-t", "60", "stop"],
            check=False,
        )  # fmt: skip

    def restart(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-m", "fast", "-w", "-t", "60", "restart",
        )  # fmt: skip

    def url(self, host: str = "127.0.0.1", db: str = "mediaq") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{db}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(db="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")


class ScratchRedis:
    """A ``redis-server`` of the harness's own, without persistence."""

    def __init__(self, root: Path, binds: list[str]) -> None:
        self.root = root
        self.port = free_port()
        self.binds = binds
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", *self.binds, "--save", "",
             "--appendonly", "no", "--protected-mode", "no", "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_for(self._pings, 20, "scratch redis")

    def _pings(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        import redis

        client = redis.Redis(port=self.port)
        client.flushall()
        client.close()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"redis://{host}:{self.port}/0"


# ---- processes of the fleet ----------------------------------------------------------------
@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_tree(self) -> None:
        if self.proc is None:
            return
        pids = tree(self.proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        for pid in pids + tree(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


@dataclass
class Host:
    """A worker host: its namespace, settings, daemon process and wall clock."""

    netns: Netns
    settings: Settings
    daemon: Proc
    clock_file: Path

    def skew_clock(self, seconds: float) -> None:
        """Step the wall clock of every process of the host to ``seconds`` off the true
        one (0: back to the truth); the monotonic clocks go on untouched."""
        with self.clock_file.open("r+b") as fh:  # in place: the processes map this file
            fh.write(struct.pack("q", round(seconds * 1e9)))


def clock_env(clock_file: Path) -> dict[str, str]:
    """What a process needs to run on the clock kept in ``clock_file``."""
    shim = clock_file.parent / "clockskew.so"
    return {"LD_PRELOAD": str(shim), "FAULT_CLOCK_FILE": str(clock_file)}


class FaultFleet:
    """The system under test on scratch services, with hosts in namespaces."""

    def __init__(self, root: Path, hosts: int = 2) -> None:
        self.root = root
        self.namespaces = [Netns(i) for i in range(hosts)]
        self.pg: ScratchPostgres | None = None
        self.redis: ScratchRedis | None = None
        self.schedulers: list[Proc] = []
        self.api: Proc | None = None
        self.hosts: list[Host] = []
        self.settings: Settings | None = None
        self._seq = 0

    # -- life cycle --
    def start(self, base: Settings) -> None:
        remove_stale_namespaces()
        for ns in self.namespaces:
            ns.delete()
            ns.create()
        binds = ["127.0.0.1", *(ns.host_ip for ns in self.namespaces)]
        self.pg = ScratchPostgres(self.root / "pg", binds)
        self.pg.init()
        self.pg.create_database("mediaq")
        self.redis = ScratchRedis(self.root, binds)
        self.redis.start()
        library = self.root / "library"
        self.settings = replace(
            base,
            database_url=self.pg.url(),
            redis_url=self.redis.url(),
            library_root=str(library),
            public_root=str(library / "public"),
            output_root=str(library / "output"),
            thumbnail_root=str(library / "thumbnails"),
            api_port=free_port(),
        ).validated()
        upgrade_to_head(self.settings.database_url)
        dispose_engines()
        run(["cc", "-shared", "-fPIC", "-O2", "-o", str(self.root / "clockskew.so"),
             str(CLOCK_SHIM), "-ldl"])  # fmt: skip
        for _ in range(2):
            self.start_scheduler()
        self.api = self._proc("api", ["api"], self.settings).start()
        for i, ns in enumerate(self.namespaces):
            self.hosts.append(self._host(i, ns))
        for host in self.hosts:
            host.daemon.start()

    def close(self) -> None:
        procs = [*self.schedulers, *(h.daemon for h in self.hosts)]
        if self.api is not None:
            procs.append(self.api)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.kill_tree()
        for ns in self.namespaces:
            with contextlib.suppress(Exception):
                ns.heal(None)
        dispose_engines()
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop("immediate")
        for ns in self.namespaces:
            ns.delete()

    # -- building blocks --
    def _proc(
        self,
        name: str,
        command: list[str],
        settings: Settings,
        prefix: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Proc:
        self._seq += 1
        env = dict(os.environ) | settings_to_env(settings) | {"PYTHONUNBUFFERED": "1"}
        env |= extra_env or {}
        argv = [*(prefix or []), sys.executable, "-m", "ops.cli", *command]
        return Proc(name, argv, env, self.root / f"{name}-{self._seq}.log")

    def _host(self, index: int, ns: Netns) -> Host:
        assert self.settings is not None and self.pg is not None and self.redis is not None
        settings = replace(
            self.settings,
            host_name=f"fault-host-{index}",
            database_url=self.pg.url(ns.host_ip),
            redis_url=self.redis.url(ns.host_ip),
        ).validated()
        clock_file = self.root / f"clock-host{index}"
        if not clock_file.exists():  # a restarted host keeps the clock it had
            clock_file.write_bytes(struct.pack("q", 0))
        # a /tmp of its own, as a real host has: its preflight socket and alive files are
        # its own, whatever other fleet runs on this machine with the same host names
        tmp = self.root / f"tmp-host{index}"
        tmp.mkdir(exist_ok=True)
        env = clock_env(clock_file) | {"TMPDIR": str(tmp)}
        daemon = self._proc(f"host{index}", ["worker"], settings, ns.exec_prefix(), env)
        return Host(ns, settings, daemon, clock_file)

    def start_scheduler(self) -> Proc:
        assert self.settings is not None
        proc = self._proc("scheduler", ["scheduler"], self.settings).start()
        self.schedulers.append(proc)
        return proc

    def restart_host(self, host: Host) -> None:
        host.daemon.kill_tree()
        host.daemon = self._host(self.hosts.index(host), host.netns).daemon.start()

    # -- looking at it --
    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows of ``sql``; like any client, reads again while the database restarts."""
        assert self.settings is not None
        for attempt in range(20):
            try:
                with engine_for(self.settings.database_url).connect() as conn:
                    return list(conn.execute(text(sql), params).all())
            except OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.query(sql, **params)
        return rows[0][0] if rows else None

    def leader(self) -> Proc | None:
        name = self.scalar(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND a.application_name LIKE 'mediaq-scheduler:%'"
        )
        if not name:
            return None
        pid = int(str(name).rsplit(":", 1)[1])
        return next((s for s in self.schedulers if s.running() and s.pid == pid), None)

    def orphans(self) -> list[str]:
        """Celery or ffmpeg processes of the fleet's hosts not below a live daemon."""
        ours: set[int] = set()
        for host in self.hosts:
            if host.daemon.running():
                ours.update(tree(host.daemon.pid))
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or not alive(int(entry)) or int(entry) in ours:
                continue
            try:
                line = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            ours_env = b"MEDIAQ_HOST=fault-host-" in environ and str(self.root).encode() in environ
            if ours_env and (b"celery" in line or b"ffmpeg" in line):
                found.append(line.decode(errors="replace")[:120])
        return found


@contextlib.contextmanager
def fault_fleet(base: Settings, hosts: int = 2) -> Iterator[FaultFleet]:
    root = Path(tempfile.mkdtemp(prefix="mediaq-faults-"))
    os.chmod(root, 0o755)
    fleet = FaultFleet(root, hosts)
    failed = True
    try:
        fleet.start(base)
        yield fleet
        failed = False
    finally:
        fleet.close()
        if failed:  # the logs of every process stay for the post-mortem (the rest is gone)
            shutil.rmtree(root / "pg", ignore_errors=True)
            shutil.rmtree(root / "library", ignore_errors=True)
            print(f"fault fleet logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
