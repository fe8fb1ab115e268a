"""``mediaq``: one command line for every role: the services, the operator's tools, the demo."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from mediaq.errors import ConfigError, Conflict, MediaqError, NotFound
from mediaq.logging_setup import configure_logging
from mediaq.settings import RESOURCE_CLASSES, Settings, declared, field_type, parse_value
from ops import exitcodes

Command = Callable[[argparse.Namespace, Settings], int]


def _stop_event() -> threading.Event:
    """An event set by SIGINT/SIGTERM, so every loop stops cleanly."""
    stop = threading.Event()

    def handle(signum: int, _: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from mediaq.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("database is at the newest schema")
    return 0


def check_library_at_start(settings: Settings) -> None:
    """The API serves the fleet's library: create its id on a fresh fleet, refuse another.

    A database that does not answer yet is no reason to refuse: the API answers 503 until it
    does, and the worker daemons check the library when they start.
    """
    from mediaq.db import engine_for
    from mediaq.library import check_library

    try:
        with engine_for(settings.database_url).begin() as conn:
            check_library(conn, settings)
    except DBAPIError as exc:
        logging.getLogger(__name__).warning(
            "library id not checked (database unavailable): %s", type(exc.orig).__name__
        )


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api_shim.app import create_app

    app = create_app(settings)
    check_library_at_start(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        log_config=None,  # log through mediaq's handler (JSON lines when asked)
        # X-Forwarded-For is honoured only from MEDIAQ_TRUSTED_PROXIES (api_shim.app), never
        # from uvicorn's default of trusting whatever 127.0.0.1 sends
        proxy_headers=False,
    )
    return 0


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from scheduler.service import Scheduler

    Scheduler(settings).run_forever(_stop_event())
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.daemon import HostDaemon

    HostDaemon(settings).run(_stop_event())
    return 0


def cmd_flower(args: argparse.Namespace, settings: Settings) -> int:
    import subprocess

    argv = [
        sys.executable,
        "-m",
        "celery",
        "-b",
        settings.redis_url,
        "flower",
        f"--port={args.port}",
        f"--address={args.address}",
        f"--conf={Path(__file__).with_name('flowerconfig.py')}",  # shows job progress
    ]
    return subprocess.call(argv)


def cmd_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from mediaq.db import transaction
    from mediaq.enqueue import JobSpec, enqueue
    from mediaq.fleetsettings import fleet_cpu_only

    params = parse_params(args.param or [])
    with transaction(settings.database_url) as session:
        spec = JobSpec(
            args.type,
            params,
            args.priority,
            args.resource_category,
            args.vram,
            cpu_only=fleet_cpu_only(session.connection(), settings, os.environ),
            unique_key=args.unique_key,
        )
        job_id = enqueue(session, spec)
    print(job_id)
    return 0


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs; values are read as JSON when they parse (numbers, lists), else text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param expects key=value, not {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    from ops import schedulecli

    params = parse_params(getattr(args, "param", None) or [])
    return schedulecli.run(args, settings, params)


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from ops.jobsview import follow_job, print_jobs

    if args.id is not None:
        return follow_job(settings, args.id)
    print_jobs(settings, status=args.status, limit=args.limit)
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from ops.up import UpOptions, run_up

    options = UpOptions(
        flower_port=args.flower_port,
        flower=not args.no_flower,
        worker=not args.no_worker,
        demo_follows=args.demo_follows,
    )
    return run_up(settings, options, _stop_event(), os.environ)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ops.demo import DemoOptions, run_demo

    options = DemoOptions(
        flower_port=args.flower_port,
        clip_seconds=args.seconds,
        timeout_s=args.timeout,
        gpu=args.gpu,
    )
    return run_demo(settings, options)


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from ops.jobactions import act_on_jobs

    return act_on_jobs(settings, "cancel", args.ids)


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    from ops.jobactions import act_on_jobs

    return act_on_jobs(settings, "retry", args.ids)


def cmd_videos(args: argparse.Namespace, settings: Settings) -> int:
    from ops.videosview import print_videos

    return print_videos(settings, args.search, args.directory_type, args.limit)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from ops.doctor import run_doctor

    return run_doctor(settings, gpu=not args.no_gpu)


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from api_shim.auth import mint_token

    if not settings.jwt_secret:
        raise ConfigError("JWT_SECRET is not set")
    print(mint_token(settings, args.user_id, args.role, args.ttl))
    return 0


def setting_flag(parser: argparse.ArgumentParser, field_name: str, *aliases: str) -> None:
    """The declared flag of a setting (``mediaq.settings``): its value parsed and bounded as
    the variable's, its help the declaration's line; given, it overrides the environment."""
    d = declared(field_name)
    names = (d.flag, *aliases)
    help_text = f"{d.doc} ({d.env})".replace("%", "%%")
    if field_type(field_name) is bool:
        parser.add_argument(
            *names, dest=field_name, action="store_true", default=None, help=help_text
        )
        return

    def parse(raw: str) -> object:
        try:
            return parse_value(field_name, raw)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = field_name  # argparse names the type in its error
    parser.add_argument(*names, dest=field_name, type=parse, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediaq",
        description=__doc__,
        epilog="exit codes: "
        + "; ".join(f"{code} {meaning}" for code, meaning in exitcodes.EXIT_CODES.items()),
    )
    common = argparse.ArgumentParser(add_help=False)
    setting_flag(common, "database_url")
    setting_flag(common, "redis_url")
    common.add_argument("-v", "--verbose", action="store_true")
    setting_flag(common, "json_logs")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", parents=[common], help="bring the database to the newest schema")
    api = sub.add_parser("api", parents=[common], help="the HTTP shim")
    setting_flag(api, "api_port")
    setting_flag(api, "api_host")
    sched = sub.add_parser("scheduler", parents=[common], help="admission, dispatch, rescue")
    setting_flag(sched, "scheduler_tick_s")
    worker = sub.add_parser("worker", parents=[common], help="the host daemon")
    setting_flag(worker, "host_name", "--host")
    for name in ("classes", "concurrency", "gpu_slots", "nvenc_sessions", "fake_gpus"):
        setting_flag(worker, name)
    flower = sub.add_parser("flower", parents=[common], help="Flower on the same broker")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="0.0.0.0")
    from mediaq.models import DIRECTORY_TYPES
    from ops.enqueuehelp import job_types_help

    enq = sub.add_parser(
        "enqueue",
        parents=[common],
        help="enqueue a job, print its id",
        epilog=job_types_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    enq.add_argument("type", help="a job type (listed below)")
    enq.add_argument("--param", action="append", metavar="K=V")
    enq.add_argument("--priority", type=int, default=5)
    enq.add_argument("--resource-category", dest="resource_category", choices=RESOURCE_CLASSES)
    enq.add_argument("--vram", type=int)
    enq.add_argument(
        "--unique-key",
        dest="unique_key",
        help="while a job with this key is pending, queued or running, print its id instead",
    )
    from ops import schedulecli

    schedulecli.add_parser(sub, common)
    jobs = sub.add_parser("jobs", parents=[common], help="list jobs, or follow one")
    jobs.add_argument("id", nargs="?", type=int)
    jobs.add_argument("--status")
    jobs.add_argument("--limit", type=int, default=30)
    cancel = sub.add_parser("cancel", parents=[common], help="cancel pending/queued/running jobs")
    cancel.add_argument("ids", nargs="+", type=int, metavar="ID")
    retry = sub.add_parser("retry", parents=[common], help="run failed or cancelled jobs again")
    retry.add_argument("ids", nargs="+", type=int, metavar="ID")
    videos = sub.add_parser("videos", parents=[common], help="list the library's videos")
    videos.add_argument("--search", help="part of the file name, title, producer or path")
    videos.add_argument("--type", dest="directory_type", choices=DIRECTORY_TYPES)
    videos.add_argument("--limit", type=int, default=50)
    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check this host: GPUs, test encodes, services, clock, library (exit 1: a problem)",
    )
    doctor.add_argument("--no-gpu", dest="no_gpu", action="store_true", help="skip NVML and NVENC")
    token = sub.add_parser("token", parents=[common], help="mint a JWT for local use")
    token.add_argument("--user-id", dest="user_id", type=int, required=True)
    token.add_argument("--role", default="admin")
    token.add_argument("--ttl", type=int, default=24 * 3600)
    up = sub.add_parser("up", parents=[common], help="everything on one machine, one tree")
    setting_flag(up, "api_port")
    up.add_argument("--flower-port", dest="flower_port", type=int, default=5555)
    up.add_argument("--no-flower", dest="no_flower", action="store_true")
    up.add_argument("--no-worker", dest="no_worker", action="store_true")
    for name in ("host_name", "concurrency", "fake_gpus"):
        setting_flag(up, name)
    up.add_argument(
        "--demo-follows",
        dest="demo_follows",
        action="store_true",
        help="say that the demo runs next instead of suggesting it (scripts/up)",
    )
    demo = sub.add_parser("demo", parents=[common], help="make test videos and process them")
    setting_flag(demo, "api_port")
    demo.add_argument("--flower-port", dest="flower_port", type=int, default=5555)
    demo.add_argument("--seconds", type=float, default=3.0, help="length of each test clip")
    demo.add_argument("--timeout", type=float, default=600.0, help="give up after (seconds)")
    demo.add_argument(
        "--gpu",
        choices=["auto", "yes", "no"],
        default="auto",
        help="run encode jobs on GPUs (auto: when a live GPU is registered)",
    )
    return parser


COMMANDS: dict[str, Command] = {
    "migrate": cmd_migrate,
    "api": cmd_api,
    "scheduler": cmd_scheduler,
    "worker": cmd_worker,
    "flower": cmd_flower,
    "enqueue": cmd_enqueue,
    "jobs": cmd_jobs,
    "schedule": cmd_schedule,
    "cancel": cmd_cancel,
    "retry": cmd_retry,
    "videos": cmd_videos,
    "doctor": cmd_doctor,
    "token": cmd_token,
    "up": cmd_up,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        settings = Settings.from_env().with_overrides(**vars(args))
        configure_logging(settings, args.command, logging.DEBUG if args.verbose else logging.INFO)
        return COMMANDS[args.command](args, settings)
    except (ConfigError, MediaqError) as exc:
        print(f"mediaq {args.command}: {exc}", file=sys.stderr)
        if isinstance(exc, NotFound):
            return exitcodes.NOT_FOUND
        if isinstance(exc, Conflict):
            return exitcodes.CONFLICT
        return exitcodes.USAGE
    except DBAPIError as exc:
        print(f"mediaq {args.command}: {database_problem(exc, settings)}", file=sys.stderr)
        return exitcodes.UNAVAILABLE
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED


def database_problem(exc: DBAPIError, settings: Settings) -> str:
    """One line for a database error at the command line (the password masked)."""
    from mediaq.settings import mask_url
    from ops.doctor import plain_database_url

    url = mask_url(plain_database_url(settings))
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    if "does not exist" in first and "relation" in first:
        return f"the database {url} has no mediaq schema ({first}); run `mediaq migrate`"
    return (
        f"PostgreSQL at {url} (DATABASE_URL) did not answer: {first}; "
        "`mediaq doctor` checks every service"
    )


if __name__ == "__main__":
    sys.exit(main())
