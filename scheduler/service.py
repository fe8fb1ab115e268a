"""The scheduler process: one active instance, others standing by.

Leadership is a PostgreSQL session advisory lock held on the very connection the scheduler
works on: if that connection dies, the lock and any half-done transaction die with it, and a
standby takes over within one tick. The loop wakes on LISTEN/NOTIFY (the jobs table's
triggers) with a short tick as fallback; each pass admits, and each tick also refreshes
waiting reasons, rescues and runs periodic work.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from mediaq.backoff import retry_delay_s
from mediaq.celeryapp import create_celery
from mediaq.db import CONNECT_ARGS
from mediaq.metrics import RESCUES, count_event
from mediaq.settings import RESOURCE_CLASSES, Settings
from scheduler import periodic
from scheduler.admission import plan_all
from scheduler.dispatch import (
    Admitted,
    Publisher,
    admit,
    admit_cpu_head_checked,
    clear_positions_outside,
    write_waiting,
)
from scheduler.fleet import count_busy, database_now, load_capacity, load_live, load_pending
from scheduler.jobstats import JobStatistics
from scheduler.model import Capacity, PendingJob, Placement, Waiting
from scheduler.ordering import plan_slots
from scheduler.reasoncache import ReasonCache
from scheduler.rescue import rescue
from scheduler.wakeup import FREED, next_pass_at

log = logging.getLogger(__name__)

LEADER_LOCK = 0x6D71_5343  # "mqSC"
CHANNEL = "mediaq_jobs"
REASON_WINDOW = 500  # pending jobs per class that carry a stored position and reason
GPU_FAST_WINDOW = 64  # eligible GPU jobs considered on a fast (notification) pass
RECONNECT_CAP_S = 5.0

# What an outage of the database or the broker raises: SQLAlchemy's errors, psycopg's own
# (LISTEN's ``notifies()`` runs on the raw driver connection), the broker's and Redis's.
OUTAGES = (SQLAlchemyError, psycopg.Error, BrokerError, RedisError, OSError)


def outage_of(exc: BaseException) -> str:
    """Which dependency an outage error speaks of."""
    if isinstance(exc, (BrokerError, RedisError)):
        return "broker"
    if isinstance(exc, (SQLAlchemyError, psycopg.Error)):
        return "database"
    return "database or broker"


@dataclass
class PassReport:
    admitted: list[Admitted] = field(default_factory=list)
    waiting: int = 0
    rescued: int = 0
    # pending rows a refresh pass read, and whether that was all of them (no class filled
    # its window): what the planner's estimate is held against (``scheduler.jobstats``)
    pending_seen: int = 0
    pending_seen_all: bool = False


class Scheduler:
    """Admission, dispatch, rescue and periodic work for the whole fleet."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or create_celery(settings)
        # The name shows in pg_stat_activity: which process holds the leader lock.
        name = f"mediaq-scheduler:{settings.host_name}:{os.getpid()}"
        self.engine: Engine = create_engine(
            settings.database_url,
            pool_size=1,
            max_overflow=0,
            # A fast pass only admits: its commit need not wait for the WAL flush (README,
            # "Choices"); a refresh pass turns it back on for its rescues and reasons.
            connect_args=dict(CONNECT_ARGS)
            | {"application_name": name[:63], "options": "-c synchronous_commit=off"},
        )
        self.publisher = Publisher(self.app, settings.queue_prefix, settings.redis_url)
        self.is_leader = False
        self.passes = 0
        self._capacity: Capacity | None = None
        self._reasons = ReasonCache()
        self._statistics = JobStatistics()
        # the last pass left a CPU job pending that is more urgent than one in the broker
        self._overtake_waiting = False

    # ---- one pass ------------------------------------------------------------------------
    def run_pass(self, conn: Connection, refresh: bool) -> PassReport:
        """Admit what fits. A refresh pass (every tick) also rescues, re-reads the fleet and
        stores every pending job's position and reason; a fast pass (on a notification) only
        admits, with the fleet as the last refresh saw it."""
        report = self._full_pass(conn) if refresh else self._fast_pass(conn)
        self.publisher.publish(report.admitted)
        if refresh:
            self._statistics.keep_fresh(
                conn, report.pending_seen, report.pending_seen_all, time.monotonic()
            )
        count_event(self.settings, RESCUES, report.rescued)
        self.passes += 1
        return report

    def _fast_pass(self, conn: Connection) -> PassReport:
        report = PassReport()
        capacity = self._capacity
        with conn.begin():
            if capacity is None:
                capacity = self._capacity = load_capacity(conn, self.settings)
            room = capacity.cpu_slots + self.settings.lookahead if capacity.cpu_slots else 0
            report.admitted.extend(self._admit_cpu_head(conn, room))
            if capacity.gpus:
                # GPUs are read fresh (two small queries): a GPU lost or a host gone silent
                # since the last tick must not be handed the very jobs released from it.
                gpus = load_capacity(conn, self.settings)
                live = load_live(conn)
                heads: dict[str, Sequence[PendingJob]] = {
                    c: load_pending(conn, c, GPU_FAST_WINDOW, eligible_only=True)
                    for c in ("gpu_ai", "gpu_encode")
                }
                now = datetime.now(UTC)
                gpu_plan = plan_all(heads, live, gpus, now, self.settings.vram_margin_mib)
                report.admitted.extend(admit(conn, gpu_plan.admitted))
        return report

    def _admit_cpu_head(self, conn: Connection, room: int) -> list[Admitted]:
        head = admit_cpu_head_checked(conn, room, self.settings.lookahead)
        self._overtake_waiting = head.overtake_waiting
        return head.admitted

    def _full_pass(self, conn: Connection) -> PassReport:
        report = PassReport()
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
            now = database_now(conn)
            rescued = rescue(conn, self.settings)
            report.rescued = rescued.total
            report.admitted.extend(rescued.republished)
            capacity = self._capacity = load_capacity(conn, self.settings)
            live = load_live(conn)
            placements: list[Placement] = []
            waiting: list[Waiting] = []
            heads: dict[str, Sequence[PendingJob]] = {}
            busy = count_busy(live, "cpu")
            heads["cpu"] = load_pending(conn, "cpu", REASON_WINDOW, eligible_only=False)
            cpu_plan = plan_slots(
                heads["cpu"], capacity.cpu_slots, busy, now, self.settings.lookahead
            )
            placements.extend(cpu_plan.admitted)
            waiting.extend(cpu_plan.waiting)
            for class_name in ("gpu_ai", "gpu_encode"):
                heads[class_name] = load_pending(
                    conn, class_name, REASON_WINDOW, eligible_only=False
                )
            gpu_plan = plan_all(heads, live, capacity, now, self.settings.vram_margin_mib)
            placements.extend(gpu_plan.admitted)
            waiting.extend(gpu_plan.waiting)
            report.pending_seen = sum(len(jobs) for jobs in heads.values())
            report.pending_seen_all = all(len(jobs) < REASON_WINDOW for jobs in heads.values())
            report.admitted.extend(admit(conn, placements))
            if capacity.cpu_slots and self.settings.lookahead:
                # head jobs more urgent than a message already in the broker overtake it
                room = capacity.cpu_slots + self.settings.lookahead
                report.admitted.extend(self._admit_cpu_head(conn, room))
            fresh = self._reasons.changed(waiting, time.monotonic())
            report.waiting = write_waiting(conn, fresh)
            self._reasons.keep_only(w.job_id for w in waiting)
            self._reasons.remember(fresh)
            class_by_id = {j.id: c for c, jobs in heads.items() for j in jobs}
            for class_name in RESOURCE_CLASSES:
                kept = [w.job_id for w in waiting if class_by_id.get(w.job_id) == class_name]
                clear_positions_outside(conn, class_name, kept)
        return report

    # ---- the loop ------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event) -> None:
        """Stand by until leader, then schedule until ``stop`` is set or leadership is lost.

        The database or the broker going away (a restart, a partition) never ends the
        process: the connection, and with it the leader lock, is dropped, and the loop
        reconnects with backoff (capped at ``RECONNECT_CAP_S``) and competes for the lead
        again. Whatever was admitted but not published is published again by the claim
        timeout rescue."""
        failures = 0
        while not stop.is_set():
            try:
                with self.engine.connect() as conn:
                    if not self._try_lead(conn):
                        failures = 0
                        stop.wait(self.settings.scheduler_tick_s)
                        continue
                    failures = 0
                    log.info("scheduler: leading (host %s)", self.settings.host_name)
                    self._lead(conn, stop)
            except OUTAGES as exc:
                failures += 1
                delay = retry_delay_s(failures, self.settings.scheduler_tick_s, RECONNECT_CAP_S)
                log.warning(
                    "scheduler: %s unreachable (%s: %s); reconnecting in %.1f s",
                    outage_of(exc),
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    delay,
                )
                self.is_leader = False
                self.engine.dispose()
                stop.wait(delay)
        self.is_leader = False

    def _try_lead(self, conn: Connection) -> bool:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar()
        )
        conn.commit()
        self.is_leader = got
        return got

    def _lead(self, conn: Connection, stop: threading.Event) -> None:
        self._reasons.forget()  # another scheduler may have written reasons meanwhile
        conn.exec_driver_sql(f"LISTEN {CHANNEL}")
        conn.commit()
        driver = conn.connection.driver_connection
        assert driver is not None
        tick = self.settings.scheduler_tick_s
        next_tick = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                refresh = now >= next_tick
                if refresh:
                    next_tick = now + tick
                started = time.monotonic()
                self.run_pass(conn, refresh)
                if refresh:
                    for line in periodic.run_due(self.settings, time.monotonic()):
                        log.info("periodic %s", line)
                self._wait_for_work(driver, next_tick, started, stop)
        finally:
            self.is_leader = False

    def _wait_for_work(
        self, driver: object, next_tick: float, started: float, stop: threading.Event
    ) -> None:
        """Wait for the tick, or until the notifications since the pass that began at
        ``started`` make the next one due (``scheduler.wakeup``); whatever arrives meanwhile
        is folded into that pass."""
        urgent, freed = False, 0
        while not stop.is_set():
            due = next_pass_at(
                started, urgent, freed, self.settings.lookahead, self._overtake_waiting
            )
            wait = min(next_tick, due if due is not None else next_tick) - time.monotonic()
            if wait <= 0:
                return
            got = list(driver.notifies(timeout=min(wait, 0.25), stop_after=1))  # type: ignore[attr-defined]
            if got:
                got += driver.notifies(timeout=0.0)  # type: ignore[attr-defined]
            for note in got:
                if note.payload in FREED:
                    freed += 1
                else:
                    urgent = True
