"""``mediaq schedule add|list|rm``: recurring jobs from the shell."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from mediaq import schedules
from mediaq.db import session_factory, transaction
from mediaq.errors import ValidationError
from mediaq.settings import Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    schedule = sub.add_parser("schedule", parents=[common], help="recurring jobs: add, list, rm")
    actions = schedule.add_subparsers(dest="schedule_action", required=True)
    add = actions.add_parser("add", help="add a schedule (a cron expression or an interval)")
    add.add_argument("name")
    add.add_argument("type", help="the job type to enqueue on every slot")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='5-field cron expression, e.g. "0 3 * * *" (03:00 daily)')
    when.add_argument("--every", type=int, metavar="SECONDS", help="a fixed interval")
    add.add_argument("--timezone", default="UTC", help="time zone of the cron expression")
    add.add_argument("--param", action="append", metavar="K=V")
    add.add_argument("--priority", type=int, default=5)
    actions.add_parser("list", help="list schedules with their last and next slot")
    rm = actions.add_parser("rm", help="delete a schedule")
    rm.add_argument("name")


def run(args: argparse.Namespace, settings: Settings, params: dict[str, Any]) -> int:
    console = Console()
    if args.schedule_action == "add":
        spec = schedules.parse_spec(
            {
                "name": args.name,
                "cron": args.cron,
                "everySeconds": args.every,
                "timezone": args.timezone,
                "job": {"type": args.type, "params": params, "priority": args.priority},
            }
        )
        with transaction(settings.database_url) as session:
            if not schedules.create(session, spec):
                raise ValidationError(f"a schedule named {spec.name!r} exists; rm it first")
        print(spec.name)
        return 0
    if args.schedule_action == "rm":
        with transaction(settings.database_url) as session:
            if not schedules.delete(session, args.name):
                console.print(f"no schedule named {args.name!r}")
                return 1
        return 0
    with session_factory(settings.database_url)() as session:
        rows = schedules.list_all(session)
    table = Table("name", "when", "tz", "job", "last slot", "next slot")
    for row in rows:
        when = row["cron"] or f"every {row['everySeconds']} s"
        table.add_row(
            row["name"],
            when,
            row["timezone"],
            row["job"]["type"],
            row["lastSlot"] or "",
            row["nextSlot"] or "",
        )
    console.print(table)
    return 0
