"""The faults the harness injects, one function each, and the overlap sampler.

Shared by the fault tests (each fault alone) and the soak (``bench/fault_soak.py``: faults
at random). Every fault that cuts something off heals it before returning.
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from mediaq.proctree import attempt_of
from tests.faults.harness import FaultFleet, Host, wait_for
from tests.faults.procs import alive, tree

HEAL_AFTER_S = 4.5  # a partition or a pause lasts past the heartbeat timeout (3 s in tests)
SKEW_S = 600.0  # a host's wall clock 10 minutes off


def busiest_host(f: FaultFleet, ids: list[int]) -> Host:
    """The host running most of the batch right now (waiting until one runs some)."""

    def pick() -> Host | None:
        rows = f.query(
            "SELECT assigned_host, count(*) AS n FROM jobs WHERE id = ANY(:ids)"
            " AND status = 'running' GROUP BY assigned_host ORDER BY n DESC",
            ids=ids,
        )
        for row in rows:
            for host in f.hosts:
                if host.settings.host_name == row.assigned_host:
                    return host
        return None

    host: Host = wait_for(pick, 60, "a host running jobs")
    return host


class OverlapSampler:
    """Samples the machine's processes for the attempt each one runs: a worker process
    carries ``mqj<job>a<attempt>`` as its name while it runs an attempt (every job type,
    noop included), a job's ffmpeg writes ``...-j<job>.a<attempt>.part``. Measures the
    longest time two attempts of one job had running (not stopped) processes at once.
    Only processes of ``fleet`` count (their environment names its folder): other work on
    the machine may run jobs of the same ids against another database."""

    OUTPUT = re.compile(rb"-j(\d+)\.a(\d+)\.part")

    def __init__(self, fleet: FaultFleet) -> None:
        self.marker = str(fleet.root).encode()
        self.longest_s = 0.0
        self._since: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> OverlapSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def attempt_of(self, pid: str) -> tuple[int, int] | None:
        """The attempt a running process of the fleet works for, if any."""
        proc = Path("/proc") / pid
        try:
            comm = (proc / "comm").read_text().rstrip("\n")
            found = attempt_of(comm)
            if found is None and comm == "ffmpeg":
                match = self.OUTPUT.search((proc / "cmdline").read_bytes())
                found = (int(match[1]), int(match[2])) if match else None
            if found is None or self.marker not in (proc / "environ").read_bytes():
                return None
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None
        return None if state in ("T", "t", "Z", "X") else found

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            attempts: dict[int, set[int]] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit() and (found := self.attempt_of(entry)) is not None:
                    attempts.setdefault(found[0], set()).add(found[1])
            now = time.monotonic()
            for job, seen in attempts.items():
                if len(seen) > 1:
                    start = self._since.setdefault(job, now)
                    self.longest_s = max(self.longest_s, now - start)
            for job in [j for j in self._since if len(attempts.get(j, ())) < 2]:
                del self._since[job]


def partition(f: FaultFleet, host: Host, ports: list[int] | None) -> None:
    host.netns.partition(ports)
    time.sleep(HEAL_AFTER_S)
    host.netns.heal(ports)


def sigstop(f: FaultFleet, host: Host) -> None:
    pids = tree(host.daemon.pid)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(HEAL_AFTER_S + 1)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGCONT)


def sigkill_daemon(f: FaultFleet, host: Host) -> None:
    below = tree(host.daemon.pid)
    os.kill(host.daemon.pid, signal.SIGKILL)
    wait_for(lambda: not any(alive(p) for p in below), 10, "the killed daemon's tree gone")
    f.restart_host(host)


def sigkill_celery_child(f: FaultFleet, host: Host) -> None:
    mains = [p for p in tree(host.daemon.pid) if p != host.daemon.pid]
    pool = [p for p in mains if os.path.exists(f"/proc/{p}") and _parent(p) in mains]
    busy = [p for p in pool if len(tree(p)) > 1] or pool
    os.kill(busy[0], signal.SIGKILL)


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def clock_skew(f: FaultFleet, host: Host) -> None:
    """Step the host's wall clock 10 minutes ahead, then 10 minutes behind, each for as
    long as a partition lasts, then back to the truth; the host runs on meanwhile."""
    for offset in (SKEW_S, -SKEW_S):
        host.skew_clock(offset)
        time.sleep(HEAL_AFTER_S)
    host.skew_clock(0)


def kill_leader(f: FaultFleet) -> None:
    leader = wait_for(f.leader, 30, "a leading scheduler")
    os.kill(leader.pid, signal.SIGKILL)
    assert leader.proc is not None
    leader.proc.wait(10)
    f.schedulers.remove(leader)
    f.start_scheduler()


def inject(f: FaultFleet, fault: str, host: Host) -> None:
    assert f.pg is not None and f.redis is not None
    match fault:
        case "partition":
            partition(f, host, None)
        case "partition_postgres":
            partition(f, host, [f.pg.port])
        case "partition_redis":
            partition(f, host, [f.redis.port])
        case "sigstop_host":
            sigstop(f, host)
        case "sigkill_daemon":
            sigkill_daemon(f, host)
        case "sigkill_celery_child":
            sigkill_celery_child(f, host)
        case "restart_postgres":
            f.pg.restart()
        case "restart_redis":
            f.redis.restart()
        case "flush_redis":
            f.redis.flush()
        case "kill_leader":
            kill_leader(f)
        case "clock_skew":
            clock_skew(f, host)
        case _:
            raise AssertionError(fault)


FAULTS = [
    "partition",
    "partition_postgres",
    "partition_redis",
    "sigkill_daemon",
    "sigkill_celery_child",
    "sigstop_host",
    "restart_postgres",
    "restart_redis",
    "flush_redis",
    "kill_leader",
    "clock_skew",
]


def fault_rounds(rng: random.Random) -> Iterator[str]:
    """Every fault once per round, each round in a random order: a long run draws every
    kind about equally often, a short one still draws each kind."""
    while True:
        order = list(FAULTS)
        rng.shuffle(order)
        yield from order
