"""Structured logs: one JSON object per line when ``settings.json_logs``, with the job id.

Every line logged while a job runs carries that job's id: ``tasks.run_job`` sets a context
variable around the attempt (``job_log_context``) and a logging filter copies it onto each
record. Plain text logs show it too (``job=123``), so both formats can be grepped by job.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from mediaq.settings import Settings

_JOB_ID: ContextVar[int | None] = ContextVar("mediaq_job_id", default=None)
_HANDLER_MARK = "_mediaq_handler"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(role)s %(name)s%(job_tag)s: %(message)s"

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is kept.
_STANDARD_ATTRS = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    | {"message", "asctime", "role", "host", "job_id", "job_tag", "taskName"}
)


def current_job_id() -> int | None:
    """The id of the job this thread (or task) is running, if any."""
    return _JOB_ID.get()


@contextmanager
def job_log_context(job_id: int) -> Iterator[None]:
    """Tag every log line of the enclosed block with ``job_id``."""
    token = _JOB_ID.set(job_id)
    try:
        yield
    finally:
        _JOB_ID.reset(token)


class ContextFilter(logging.Filter):
    """Copies the role, host and current job id onto each record."""

    def __init__(self, role: str, host: str) -> None:
        super().__init__()
        self.role = role
        self.host = host

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None) or _JOB_ID.get()
        record.job_id = job_id
        record.job_tag = f" job={job_id}" if job_id is not None else ""
        record.role = self.role
        record.host = self.host
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, role, host, pid, job_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_to_json(record), default=str, ensure_ascii=False)


def record_to_json(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON object of one log record (pure: depends only on the record)."""
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
        "role": getattr(record, "role", None),
        "host": getattr(record, "host", None),
        "pid": record.process,
    }
    job_id = getattr(record, "job_id", None)
    if job_id is not None:
        out["job_id"] = job_id
    for key, value in record.__dict__.items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            out[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        out["exc"] = record.exc_text
    return out


def build_handler(settings: Settings, role: str, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler with the context filter and the format the settings ask for."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter(role, settings.host_name))
    if settings.json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(
    settings: Settings, role: str, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Replace the root logger's handlers with one mediaq handler (idempotent)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(build_handler(settings, role, stream))
    root.setLevel(level)


def install_celery_logging(settings: Settings) -> None:
    """Make a Celery worker log through ``configure_logging`` (role ``celery``).

    Celery skips its own logging set-up when ``setup_logging`` has a receiver; the worker's
    ``--loglevel`` still decides the level.
    """
    from celery.signals import setup_logging

    def receiver(loglevel: int | str | None = None, **_: Any) -> None:
        level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
        configure_logging(settings, "celery", level if isinstance(level, int) else logging.INFO)

    setup_logging.connect(receiver, weak=False, dispatch_uid=f"mediaq-logging-{os.getpid()}")
