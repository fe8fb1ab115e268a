"""``mediaq up`` then ``mediaq demo``: the demo's jobs finish, the API answers, Flower lists
the worker and ``/metrics`` counts the jobs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from tests.integration.browserharness import browser
from tests.integration.fleet import query, wait_until
from tests.integration.uphelp import ROOT, UpProcess, http_get

__all__ = ["browser"]  # the fixture


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"{name}{labels} not exported")


def flower_workers(up: UpProcess, deadline: float) -> dict[str, object]:
    while True:
        try:
            status, body = http_get(f"{up.flower}/api/workers?refresh=1", timeout=10)
            workers = json.loads(body)
            if status == 200 and workers:
                return workers  # type: ignore[no-any-return]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"Flower listed no worker:\n{up.log()[-3000:]}")
        time.sleep(0.5)


def test_up_then_demo_runs_every_demo_job(settings: Settings, tmp_path: Path, browser: Any) -> None:
    settings = dataclasses.replace(settings, task_events=True)
    with UpProcess(settings, tmp_path / "up.log", "--json-logs") as up:
        up.wait_ready(75)
        assert "database migrated" in up.log()
        demo = subprocess.run(
            [
                *(sys.executable, "-m", "ops.cli", "demo", "--seconds", "1", "--timeout", "60"),
                *("--port", str(up.api_port), "--flower-port", str(up.flower_port)),
            ],
            env=up.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=85,
        )
        assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:] + up.log()[-3000:]
        assert f"Gallery:   {up.api}/gallery" in demo.stdout
        assert f"Flower:    {up.flower}/" in demo.stdout

        jobs = query(settings, "SELECT type, status FROM jobs ORDER BY id")
        assert [j.type for j in jobs] == [
            "scan",
            "reencode_streaming",
            "generate_gif",
            "compile_quad",
            "publish",
            "publish",
            "publish",
            "storyboard",
            "storyboard",
            "storyboard",
        ]
        assert {j.status for j in jobs} == {"completed"}

        status, body = http_get(f"{up.api}/api/media/public?limit=10")
        assert status == 200
        gallery = json.loads(body)
        categories = sorted(item["category"] for item in gallery["videos"])
        assert categories == ["compilations", "gifs", "videos"]
        # each item carries its own name and picture: the quad is not its first source
        names = {item["category"]: item["filename"] for item in gallery["videos"]}
        assert "quad" in names["compilations"], names
        assert len({item["thumbnailUrl"] for item in gallery["videos"]}) == 3
        for item in gallery["videos"]:
            status, _ = http_get(f"{up.api}{item['thumbnailUrl']}")
            assert status == 200
        # the gallery page a person opens: the demo's items, with thumbnails that load
        page = browser.new_page()
        page.goto(f"{up.api}/gallery")
        page.wait_for_function("() => document.querySelectorAll('#cards li.card').length === 3")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#cards img')]"
            ".every((i) => i.complete && i.naturalWidth > 0)"
        )
        shown = page.locator("#cards li.card h2").all_inner_texts()
        assert sorted(shown) == sorted(item["filename"] for item in gallery["videos"])

        workers = flower_workers(up, time.monotonic() + 30)
        assert f"cpu@{settings.host_name}" in workers

        status, body = http_get(f"{up.api}/metrics")
        text = body.decode()
        assert metric(text, "mediaq_jobs", status="completed", **{"class": "cpu"}) == 10
        assert metric(text, "mediaq_job_wait_seconds_count", **{"class": "cpu"}) == 10
        assert metric(text, "mediaq_worker_host_up", host=settings.host_name) == 1

        # Structured logs: JSON lines from every mediaq role; a job's lines carry its id.
        with transaction(settings.database_url) as session:
            failing = enqueue(session, JobSpec("noop", {"fail": "permanent"}))
        wait_until(lambda: job_lines(up.log(), failing), 30, what="a log line of the job")
        roles = {r.get("role") for r in json_lines(up.log())}
        assert {"up", "scheduler", "worker", "celery"} <= roles
        [line] = job_lines(up.log(), failing)
        assert line["level"] == "WARNING" and "failed" in line["msg"]


def json_lines(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith('{"ts"')]


def job_lines(log: str, job_id: int) -> list[dict[str, Any]]:
    return [r for r in json_lines(log) if r.get("job_id") == job_id]
