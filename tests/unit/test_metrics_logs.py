"""Structured logs: one JSON object per line, the job id on every line logged inside a job."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from mediaq.logging_setup import configure_logging, current_job_id, job_log_context
from mediaq.settings import Settings


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_carry_job_id_inside_a_job_only(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(json_logs=True, host_name="h1"), "celery", stream=stream)
    log = logging.getLogger("mediaq.test")
    log.info("before")
    with job_log_context(42):
        log.info("probing %s", "clip.mp4")
        logging.getLogger("tasks.handlers.scan").warning("skipped", extra={"path": "/x"})
    log.info("after")
    records = [json.loads(line) for line in lines(stream)]
    assert [r["msg"] for r in records] == ["before", "probing clip.mp4", "skipped", "after"]
    assert [r.get("job_id") for r in records] == [None, 42, 42, None]
    assert records[1]["role"] == "celery" and records[1]["host"] == "h1"
    assert records[2]["level"] == "WARNING" and records[2]["path"] == "/x"
    assert records[0]["ts"].endswith("+00:00")


def test_exceptions_stay_on_one_line(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(json_logs=True), "api", stream=stream)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("x").exception("failed")
    [line] = lines(stream)
    record = json.loads(line)
    assert "ValueError: bad" in record["exc"]


def test_text_format_shows_job_id(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(json_logs=False), "worker", stream=stream)
    with job_log_context(7):
        logging.getLogger("w").info("hello")
    [line] = lines(stream)
    assert " worker w job=7: hello" in line


def test_job_context_is_per_thread_and_restored() -> None:
    seen: list[int | None] = []
    with job_log_context(1):
        thread = threading.Thread(target=lambda: seen.append(current_job_id()))
        thread.start()
        thread.join()
        with job_log_context(2):
            assert current_job_id() == 2
        assert current_job_id() == 1
    assert current_job_id() is None
    assert seen == [None]
