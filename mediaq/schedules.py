"""Schedules: a job enqueued on every slot of a 5-field cron expression or a fixed interval.

- **Slots.** A cron schedule's slots are the times its expression matches in its time zone
  (``croniter``, daylight saving included); an ``everySeconds`` schedule's slots are the
  multiples of its interval since the Unix epoch, so every scheduler computes the same slots.
- **Exactly one job per slot.** Enqueueing a slot inserts ``(schedule, slot)`` into
  ``schedule_runs`` (its primary key) and the job in the same transaction: two schedulers
  racing, or one failing over mid-slot, cannot enqueue a slot twice, and a slot whose
  transaction rolled back is simply tried again.
- **No burst after downtime.** Slots missed by less than ``GRACE_S`` (a slow tick, a
  failover) are still enqueued; older missed slots are not replayed: only the latest of them
  runs, once (one catch-up at most).

The slot arithmetic is pure (``slots_to_run``); the database work is ``run_due``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import bindparam

from mediaq.enqueue import DEFAULT_PRIORITY, JobSpec, enqueue, job_row
from mediaq.errors import ValidationError
from mediaq.jsonfmt import iso

GRACE_S = 5.0  # missed slots younger than this still run; older ones collapse into one
MAX_NAME = 100
MAX_EVERY_S = 366 * 24 * 3600
JOB_KEYS = {"type", "params", "priority", "resourceCategory", "vramRequired", "maxAttempts"}


@dataclass(frozen=True)
class Rule:
    """When a schedule fires: ``cron`` (5 fields) or ``every_seconds``, in ``timezone``."""

    cron: str | None = None
    every_seconds: int | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every_seconds is None):
            raise ValidationError("give exactly one of cron or everySeconds")
        if self.cron is not None:
            fields = self.cron.split()
            if len(fields) != 5 or not croniter.is_valid(self.cron):
                raise ValidationError(
                    f"cron must be a 5-field cron expression (minute hour day month weekday), "
                    f"not {self.cron!r}"
                )
        if self.every_seconds is not None and (
            isinstance(self.every_seconds, bool)
            or not isinstance(self.every_seconds, int)
            or not 1 <= self.every_seconds <= MAX_EVERY_S
        ):
            raise ValidationError(f"everySeconds must be an integer from 1 to {MAX_EVERY_S}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown timezone {self.timezone!r}") from None

    def latest_at_or_before(self, now: datetime) -> datetime:
        """The newest slot that is not after ``now`` (UTC)."""
        if self.every_seconds is not None:
            n = self.every_seconds
            return datetime.fromtimestamp(math.floor(now.timestamp() / n) * n, UTC)
        return self.before(now + timedelta(microseconds=1))

    def before(self, moment: datetime) -> datetime:
        """The newest slot strictly before ``moment`` (UTC)."""
        if self.every_seconds is not None:
            n = self.every_seconds
            return datetime.fromtimestamp((math.ceil(moment.timestamp() / n) - 1) * n, UTC)
        local = moment.astimezone(ZoneInfo(self.timezone))
        prev: datetime = croniter(self.cron, local).get_prev(datetime)
        return prev.astimezone(UTC)

    def after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (UTC)."""
        if self.every_seconds is not None:
            n = self.every_seconds
            return datetime.fromtimestamp((math.floor(moment.timestamp() / n) + 1) * n, UTC)
        local = moment.astimezone(ZoneInfo(self.timezone))
        nxt: datetime = croniter(self.cron, local).get_next(datetime)
        return nxt.astimezone(UTC)


def slots_to_run(
    rule: Rule, last_slot: datetime | None, created_at: datetime, now: datetime
) -> list[datetime]:
    """The slots to enqueue now, oldest first (pure).

    Slots after ``last_slot`` (or from ``created_at`` on) up to ``now``: those missed by at
    most ``GRACE_S`` all run; if every missed slot is older, only the latest one does.
    """
    floor = last_slot if last_slot is not None else created_at - timedelta(microseconds=1)
    latest = rule.latest_at_or_before(now)
    if latest <= floor:
        return []
    recent = []
    slot = latest
    while slot > floor and (now - slot).total_seconds() <= GRACE_S:
        recent.append(slot)
        slot = rule.before(slot)
    if recent:
        return recent[::-1]
    return [latest]


# ---- requests ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    rule: Rule
    job: dict[str, Any]  # camelCase, as the API's POST /api/jobs takes it

    def job_spec(self, cpu_only: bool = False) -> JobSpec:
        job = self.job
        return JobSpec(
            type=job["type"],
            params=job.get("params") or {},
            priority=job.get("priority", DEFAULT_PRIORITY),
            resource_category=job.get("resourceCategory"),
            vram_required=job.get("vramRequired"),
            max_attempts=job.get("maxAttempts"),
            cpu_only=cpu_only,
        )


SCHEDULE_KEYS = frozenset({"name", "cron", "everySeconds", "timezone", "job"})


def parse_spec(body: Mapping[str, Any]) -> ScheduleSpec:
    """Validate a schedule as the API and the CLI give it (camelCase)."""
    unknown_keys = sorted(set(body) - SCHEDULE_KEYS)
    if unknown_keys:
        raise ValidationError(f"unknown schedule field {unknown_keys[0]!r}")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ValidationError(f"name must be a non-empty string of at most {MAX_NAME} characters")
    if "/" in name or "\x00" in name:
        raise ValidationError("name must not contain '/' or NUL characters")
    cron = body.get("cron")
    if cron is not None and not isinstance(cron, str):
        raise ValidationError("cron must be a string")
    timezone = body.get("timezone")
    timezone = "UTC" if timezone is None or timezone == "" else timezone
    if not isinstance(timezone, str):
        raise ValidationError("timezone must be a string")
    rule = Rule(cron=cron, every_seconds=body.get("everySeconds"), timezone=timezone)
    job = body.get("job")
    if not isinstance(job, dict):
        raise ValidationError("job must be an object with at least a type")
    unknown = sorted(set(job) - JOB_KEYS)
    if unknown:
        raise ValidationError(f"unknown job field {unknown[0]!r}")
    spec = ScheduleSpec(name.strip(), rule, dict(job))
    if not isinstance(job.get("type"), str):
        raise ValidationError("job.type is required")
    job_row(spec.job_spec())  # the job is validated now, not at its first slot
    return spec


# ---- database ---------------------------------------------------------------------------------
Conn = Connection | Session


def create(conn: Conn, spec: ScheduleSpec) -> bool:
    """Store a schedule; False when one of that name exists (nothing changes)."""
    row = conn.execute(
        text(
            """
            INSERT INTO schedules (name, cron, every_seconds, timezone, job)
            VALUES (:name, :cron, :every, :tz, :job)
            ON CONFLICT (name) DO NOTHING RETURNING name
            """
        ).bindparams(bindparam("job", type_=JSONB)),
        {
            "name": spec.name,
            "cron": spec.rule.cron,
            "every": spec.rule.every_seconds,
            "tz": spec.rule.timezone,
            "job": spec.job,
        },
    ).first()
    return row is not None


def delete(conn: Conn, name: str) -> bool:
    row = conn.execute(
        text("DELETE FROM schedules WHERE name = :n RETURNING name"), {"n": name}
    ).first()
    return row is not None


_COLUMNS = "name, cron, every_seconds, timezone, job, created_at, last_slot"


def to_json(row: Any, now: datetime) -> dict[str, Any]:
    rule = Rule(row.cron, row.every_seconds, row.timezone)
    return {
        "name": row.name,
        "cron": row.cron,
        "everySeconds": row.every_seconds,
        "timezone": row.timezone,
        "job": row.job,
        "createdAt": iso(row.created_at),
        "lastSlot": iso(row.last_slot),
        "nextSlot": iso(rule.after(max(now, row.last_slot or now))),
    }


def list_all(conn: Conn) -> list[dict[str, Any]]:
    now = conn.execute(text("SELECT now()")).scalar_one()
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM schedules ORDER BY name")).all()
    return [to_json(r, now) for r in rows]


def get(conn: Conn, name: str) -> dict[str, Any] | None:
    now = conn.execute(text("SELECT now()")).scalar_one()
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM schedules WHERE name = :n"), {"n": name}
    ).first()
    return to_json(row, now) if row is not None else None


def runs(conn: Conn, name: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT slot, job_id, created_at FROM schedule_runs WHERE schedule_name = :n "
            "ORDER BY slot DESC LIMIT :l"
        ),
        {"n": name, "l": limit},
    ).all()
    return [{"slot": iso(r.slot), "jobId": r.job_id, "enqueuedAt": iso(r.created_at)} for r in rows]


def run_due(engine: Engine, cpu_only: bool = False) -> int:
    """Enqueue the due slots of every schedule; returns how many jobs were enqueued.

    One transaction per slot: the ``schedule_runs`` row and its job commit together.
    """
    with engine.connect() as conn:
        now = conn.execute(text("SELECT now()")).scalar_one()
        rows = conn.execute(text(f"SELECT {_COLUMNS} FROM schedules")).all()
        conn.rollback()
    enqueued = 0
    for row in rows:
        try:
            rule = Rule(row.cron, row.every_seconds, row.timezone)
        except ValidationError:
            continue  # written around the API; never fatal to the others
        spec = ScheduleSpec(row.name, rule, dict(row.job))
        for slot in slots_to_run(rule, row.last_slot, row.created_at, now):
            with Session(engine) as session, session.begin():
                if _enqueue_slot(session, spec, slot, cpu_only):
                    enqueued += 1
    return enqueued


def _enqueue_slot(session: Session, spec: ScheduleSpec, slot: datetime, cpu_only: bool) -> bool:
    try:
        taken = session.execute(
            text(
                "INSERT INTO schedule_runs (schedule_name, slot) VALUES (:n, :s) "
                "ON CONFLICT DO NOTHING RETURNING slot"
            ),
            {"n": spec.name, "s": slot},
        ).first()
    except IntegrityError:
        return False  # the schedule was deleted meanwhile
    if taken is None:
        return False  # another scheduler enqueued this slot
    session.execute(
        text("UPDATE schedules SET last_slot = greatest(last_slot, :s) WHERE name = :n"),
        {"n": spec.name, "s": slot},
    )
    try:
        job_spec = spec.job_spec(cpu_only)
        job_row(job_spec)
    except ValidationError:
        return False  # a job type removed since: the slot is recorded, nothing runs
    job_id = enqueue(session, job_spec)
    session.execute(
        text("UPDATE schedule_runs SET job_id = :j WHERE schedule_name = :n AND slot = :s"),
        {"j": job_id, "n": spec.name, "s": slot},
    )
    return True
