"""Prometheus metrics of the whole fleet, computed at scrape time.

The API process serves ``/metrics``, but most facts live elsewhere: in the jobs table (state
counts, queue depth, waits, waiting reasons, the VRAM ledger), in the GPU snapshots the
worker daemons write, and in a few event counters that other processes keep in Redis (one
hash per queue prefix: duplicate deliveries dropped by workers, rescues by the scheduler).
So a scrape reads a ``MetricsSnapshot`` (``read_snapshot``: the only I/O here) and turns it
into metric families with pure functions; any API replica gives the same answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, text

from mediaq.guardwire import read_refusals, refusals_key
from mediaq.jobcounts import counts_by_class_status
from mediaq.jobstates import JobStatus
from mediaq.pauses import load_pauses
from mediaq.queues import PRIORITY_LEVELS, cpu_queue, gpu_queue, level_lists
from mediaq.settings import RESOURCE_CLASSES, Settings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Seconds from enqueue to start: sub-second admission up to jobs held back for hours.
WAIT_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)
STATUSES = tuple(s.value for s in JobStatus)
# Event counters kept in Redis by the processes where the events happen.
DUPLICATES_DROPPED = "duplicates_dropped"
RESCUES = "rescues"
VIEWS_FLUSHED = "views_flushed"
COUNTERS = (DUPLICATES_DROPPED, RESCUES, VIEWS_FLUSHED)


@dataclass(frozen=True)
class GpuSample:
    """One GPU as the last heartbeat saw it, plus the ledger's reservations on it."""

    host: str
    uuid: str
    index: int
    name: str
    total_mib: int
    free_mib: int
    reserved_mib: int
    foreign_mib: int
    healthy: bool


@dataclass(frozen=True)
class WaitHistogram:
    """Cumulative counts per bucket bound (``WAIT_BUCKETS``, then +Inf) and the sum."""

    cumulative: tuple[int, ...]
    sum_s: float


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything one scrape reports, as plain values."""

    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (class, status) -> n
    queue_head_age_s: dict[str, float] = field(default_factory=dict)  # class -> seconds
    waits: dict[str, WaitHistogram] = field(default_factory=dict)  # class -> histogram
    waiting: dict[tuple[str, str], int] = field(default_factory=dict)  # (class, code) -> n
    hosts: dict[str, bool] = field(default_factory=dict)  # host -> live
    gpus: tuple[GpuSample, ...] = ()
    counters: dict[str, int] = field(default_factory=dict)  # COUNTERS -> total
    broker_messages: dict[str, int] = field(default_factory=dict)  # queue -> messages
    pauses: tuple[tuple[str, str], ...] = ()  # (class, type or '' for the whole class)
    # refused public writes: (route, reason) -> total (mediaq.guardwire)
    refusals: dict[tuple[str, str], int] = field(default_factory=dict)


# ---- pure: snapshot -> metric families -------------------------------------------------------
def metric_families(snap: MetricsSnapshot) -> list[Metric]:
    """The Prometheus metric families of one snapshot (pure)."""
    return [
        *_job_families(snap),
        _wait_family(snap),
        _waiting_family(snap),
        _paused_family(snap),
        *_gpu_families(snap),
        *_counter_families(snap),
    ]


def _job_families(snap: MetricsSnapshot) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "mediaq_jobs", "Jobs by resource class and status.", labels=["class", "status"]
    )
    depth = GaugeMetricFamily(
        "mediaq_queue_depth",
        "Pending jobs per resource class (the queue the scheduler admits from, in order).",
        labels=["class"],
    )
    head = GaugeMetricFamily(
        "mediaq_queue_head_age_seconds",
        "Age of the job at position 1 of each class (priority, then creation order).",
        labels=["class"],
    )
    for class_name in RESOURCE_CLASSES:
        for status in STATUSES:
            jobs.add_metric([class_name, status], snap.jobs.get((class_name, status), 0))
        depth.add_metric([class_name], snap.jobs.get((class_name, "pending"), 0))
        head.add_metric([class_name], snap.queue_head_age_s.get(class_name, 0.0))
    broker = GaugeMetricFamily(
        "mediaq_broker_queue_messages",
        "Messages waiting in each broker queue (only admitted jobs are ever published).",
        labels=["queue"],
    )
    for queue, n in sorted(snap.broker_messages.items()):
        broker.add_metric([queue], n)
    yield from (jobs, depth, head, broker)


def _wait_family(snap: MetricsSnapshot) -> Metric:
    family = HistogramMetricFamily(
        "mediaq_job_wait_seconds",
        "Time from enqueue (created_at) to the start of each job's first attempt.",
        labels=["class"],
    )
    bounds = [*(_fmt_bound(b) for b in WAIT_BUCKETS), "+Inf"]
    for class_name in RESOURCE_CLASSES:
        hist = snap.waits.get(class_name, WaitHistogram((0,) * len(bounds), 0.0))
        family.add_metric(
            [class_name], list(zip(bounds, hist.cumulative, strict=True)), sum_value=hist.sum_s
        )
    return family


def _fmt_bound(bound: float) -> str:
    return repr(float(bound))


def _waiting_family(snap: MetricsSnapshot) -> Metric:
    family = GaugeMetricFamily(
        "mediaq_admission_refused",
        "Pending jobs the scheduler is holding back, by class and waiting reason code.",
        labels=["class", "code"],
    )
    for (class_name, code), n in sorted(snap.waiting.items()):
        family.add_metric([class_name, code], n)
    return family


def _paused_family(snap: MetricsSnapshot) -> Metric:
    family = GaugeMetricFamily(
        "mediaq_queue_paused",
        '1 for each paused resource class (type "") or job type within a class.',
        labels=["class", "type"],
    )
    for class_name, job_type in snap.pauses:
        family.add_metric([class_name, job_type], 1)
    return family


def _gpu_families(snap: MetricsSnapshot) -> Iterator[Metric]:
    labels = ["host", "gpu", "index", "name"]
    names = {
        "total": "Total memory of the GPU (NVML).",
        "free": "Free memory of the GPU as NVML last reported it.",
        "reserved": "Memory reserved by queued and running jobs (the admission ledger).",
        "foreign": "Memory held outside mediaq's running jobs (as admission counts it).",
    }
    families = {
        key: GaugeMetricFamily(f"mediaq_gpu_vram_{key}_bytes", doc, labels=labels)
        for key, doc in names.items()
    }
    healthy = GaugeMetricFamily(
        "mediaq_gpu_healthy", "1 when NVML reports the GPU usable.", labels=labels
    )
    for gpu in snap.gpus:
        values = [gpu.host, gpu.uuid, str(gpu.index), gpu.name]
        families["total"].add_metric(values, gpu.total_mib * MIB)
        families["free"].add_metric(values, gpu.free_mib * MIB)
        families["reserved"].add_metric(values, gpu.reserved_mib * MIB)
        families["foreign"].add_metric(values, gpu.foreign_mib * MIB)
        healthy.add_metric(values, 1 if gpu.healthy else 0)
    up = GaugeMetricFamily(
        "mediaq_worker_host_up", "1 while the worker host heartbeats.", labels=["host"]
    )
    for host, live in sorted(snap.hosts.items()):
        up.add_metric([host], 1 if live else 0)
    yield from (*families.values(), healthy, up)


def _counter_families(snap: MetricsSnapshot) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "mediaq_rescues",
        "Jobs rescued by the scheduler: republished, retried or failed after a lost worker.",
        value=snap.counters.get(RESCUES, 0),
    )
    yield CounterMetricFamily(
        "mediaq_duplicate_deliveries_dropped",
        "Broker deliveries that found nothing to claim (duplicates, stale attempts).",
        value=snap.counters.get(DUPLICATES_DROPPED, 0),
    )
    yield CounterMetricFamily(
        "mediaq_views_flushed",
        "Gallery views flushed from the Redis buffer into PostgreSQL.",
        value=snap.counters.get(VIEWS_FLUSHED, 0),
    )
    refused = CounterMetricFamily(
        "mediaq_public_refusals",
        "Public writes refused (429) or not counted, by route and reason: address_rate, "
        "session_rate, sessions (too many sessions from one address), repeat (the same "
        "comment again), unplayed (a view reported before the player played long enough).",
        labels=["route", "reason"],
    )
    for (route, reason), n in sorted(snap.refusals.items()):
        refused.add_metric([route, reason], n)
    yield refused


class SnapshotCollector(Collector):
    """A collector that reports one snapshot (a fresh registry per scrape uses it)."""

    def __init__(self, snap: MetricsSnapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterable[Metric]:
        return metric_families(self.snap)


def render(snap: MetricsSnapshot) -> bytes:
    """The Prometheus text exposition of a snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry)


# ---- I/O: read a snapshot ---------------------------------------------------------------------
def read_snapshot(
    conn: Connection, settings: Settings, client: redis.Redis | None = None
) -> MetricsSnapshot:
    """Read everything a scrape reports; Redis trouble leaves its numbers out, nothing else."""
    counters: dict[str, int] = {}
    broker: dict[str, int] = {}
    refusals: dict[tuple[str, str], int] = {}
    gpus = _read_gpus(conn, settings)
    if client is not None:
        try:
            counters = read_counters(client, settings.queue_prefix)
            broker = _read_broker(client, settings, [g.uuid for g in gpus])
            refusals = read_refusals(client.hgetall(refusals_key(settings.queue_prefix)))
        except redis.RedisError as exc:
            log.warning("metrics: Redis unreachable, counters left out: %s", exc)
    return MetricsSnapshot(
        jobs=_read_job_counts(conn),
        queue_head_age_s=_read_head_ages(conn),
        waits=_read_waits(conn),
        waiting=_read_waiting(conn),
        pauses=tuple((p.resource_category, p.type) for p in load_pauses(conn)),
        hosts=_read_hosts(conn, settings),
        gpus=gpus,
        counters=counters,
        broker_messages=broker,
        refusals=refusals,
    )


def _read_job_counts(conn: Connection) -> dict[tuple[str, str], int]:
    return counts_by_class_status(conn)


def _read_head_ages(conn: Connection) -> dict[str, float]:
    # The head of each class in exact admission order, one index probe per class.
    ages: dict[str, float] = {}
    for class_name in RESOURCE_CLASSES:
        age = conn.execute(
            text(
                """
                SELECT EXTRACT(EPOCH FROM now() - created_at) FROM jobs
                 WHERE status = 'pending' AND resource_category = :c
                 ORDER BY priority DESC, created_at, id LIMIT 1
                """
            ),
            {"c": class_name},
        ).scalar()
        ages[class_name] = max(0.0, float(age or 0.0))
    return ages


def _read_waits(conn: Connection) -> dict[str, WaitHistogram]:
    # Counters per (class, bucket bound) kept by the transition trigger (migration 0006):
    # a few dozen rows, however many jobs ever started.
    rows = conn.execute(
        text(
            "SELECT resource_category AS c, le, sum(n) AS n, sum(sum_s) AS s "
            "FROM job_wait_counts GROUP BY 1, 2"
        )
    )
    index = {b: i for i, b in enumerate(WAIT_BUCKETS)}
    per_class: dict[str, list[tuple[int, int, float]]] = {}
    for r in rows:
        bucket = index.get(float(r.le), len(WAIT_BUCKETS))
        per_class.setdefault(r.c, []).append((bucket, int(r.n), float(r.s)))
    return {c: histogram_from_buckets(groups) for c, groups in per_class.items()}


def histogram_from_buckets(groups: Iterable[tuple[int, int, float]]) -> WaitHistogram:
    """A cumulative histogram from (bucket index, count, sum) groups (pure).

    Index ``i`` is the first bound of ``WAIT_BUCKETS`` that holds the value; ``len`` is +Inf.
    """
    counts = [0] * (len(WAIT_BUCKETS) + 1)
    total_s = 0.0
    for index, n, sum_s in groups:
        counts[index] += n
        total_s += sum_s
    running, cumulative = 0, []
    for n in counts:
        running += n
        cumulative.append(running)
    return WaitHistogram(tuple(cumulative), total_s)


def _read_waiting(conn: Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        text(
            "SELECT resource_category AS c, waiting_code AS code, count(*) AS n FROM jobs "
            "WHERE status = 'pending' AND waiting_code IS NOT NULL GROUP BY 1, 2"
        )
    )
    return {(r.c, r.code): int(r.n) for r in rows}


def _read_hosts(conn: Connection, settings: Settings) -> dict[str, bool]:
    rows = conn.execute(
        text(
            "SELECT name, last_seen > now() - make_interval(secs => :t) AS live FROM worker_hosts"
        ),
        {"t": settings.host_timeout_s},
    )
    return {r.name: bool(r.live) for r in rows}


def _read_gpus(conn: Connection, settings: Settings) -> tuple[GpuSample, ...]:
    rows = conn.execute(
        text(
            """
            SELECT g.host_name, g.uuid, g.index AS gpu_index, g.name, g.total_mib, g.free_mib,
                   g.healthy, coalesce(r.mib, 0) AS reserved,
                   greatest(g.foreign_mib, g.used_mib - coalesce(r.running, 0), 0) AS foreign
              FROM gpus g
              LEFT JOIN (SELECT assigned_gpu, sum(vram_required) AS mib,
                                sum(vram_required) FILTER (WHERE status = 'running') AS running
                           FROM jobs
                          WHERE status IN ('queued', 'running') AND assigned_gpu IS NOT NULL
                          GROUP BY 1) r ON r.assigned_gpu = g.uuid
             ORDER BY g.host_name, g.index
            """
        )
    )
    return tuple(
        GpuSample(
            host=r.host_name,
            uuid=r.uuid,
            index=int(r.gpu_index),
            name=r.name,
            total_mib=int(r.total_mib),
            free_mib=int(r.free_mib),
            reserved_mib=int(r.reserved),
            foreign_mib=int(r.foreign),
            healthy=bool(r.healthy),
        )
        for r in rows
    )


def _read_broker(client: redis.Redis, settings: Settings, gpu_uuids: list[str]) -> dict[str, int]:
    queues = [cpu_queue(settings.queue_prefix)]
    queues += [gpu_queue(settings.queue_prefix, uuid) for uuid in gpu_uuids]
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for key in level_lists(queue):
            pipe.llen(key)
    lengths = iter(pipe.execute())
    return {q: sum(int(next(lengths)) for _ in range(PRIORITY_LEVELS)) for q in queues}


# ---- event counters in Redis ----------------------------------------------------------------
def counters_key(queue_prefix: str) -> str:
    """The Redis hash holding the event counters of one deployment (one queue prefix)."""
    return f"{queue_prefix}:metrics"


def read_counters(client: redis.Redis, queue_prefix: str) -> dict[str, int]:
    raw: dict[Any, Any] = client.hgetall(counters_key(queue_prefix))
    out = {name: 0 for name in COUNTERS}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        out[name] = int(value)
    return out


_CLIENTS: dict[str, redis.Redis] = {}
_CLIENTS_LOCK = threading.Lock()


def redis_client(url: str) -> redis.Redis:
    """One Redis client per URL and process, with short timeouts (metrics must not hang)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
            _CLIENTS[url] = client
        return client


def count_event(settings: Settings, name: str, n: int = 1) -> None:
    """Add ``n`` to an event counter; never raises (a lost count must not fail a job)."""
    if n <= 0:
        return
    try:
        redis_client(settings.redis_url).hincrby(counters_key(settings.queue_prefix), name, n)
    except redis.RedisError as exc:
        log.warning("metrics: could not count %s: %s", name, exc)
