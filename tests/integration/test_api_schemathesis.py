"""Schemathesis's own runner with every check over the generated ``/openapi.json``.

Every operation, every phase (examples, coverage, fuzzing, stateful links), with an admin
token, on a database with some rows. Every check runs except ``positive_data_acceptance``:
a business rule may refuse schema-valid input (a comment on locked media, a retry of a
pending job). So: no 500, no response outside its schema, no 2xx for a request the
schema forbids, an ``Allow`` header on every 405. Bounded by ``--max-examples``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, connect, insert_media, live_server

MAX_EXAMPLES = 5


@pytest.mark.timeout(600)
def test_schemathesis_with_every_check(settings: Settings, redis_client: redis.Redis) -> None:
    insert_media(settings, 3, duration_seconds=120, orientation="landscape")
    with connect(settings) as conn:
        conn.execute(
            "INSERT INTO videos (path, filename, title, duration_seconds) "
            "VALUES ('/lib/a.mp4', 'a.mp4', 'A', 60)"
        )
    with live_server(settings) as base:
        auth = admin_headers(settings)["Authorization"]
        common = [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json"),
            *("--checks", "all", "--exclude-checks", "positive_data_acceptance"),
            *("--max-examples", str(MAX_EXAMPLES), "--workers", "1"),
            *("-H", f"Authorization: {auth}", "--suppress-health-check", "all"),
            *("--generation-deterministic", "--no-color", "--max-failures", "50"),
        ]
        runs = [
            # every phase (examples, coverage, fuzzing, stateful) but for the job bodies ...
            [*common, "--exclude-name", "POST /api/jobs", "--exclude-name", "POST /api/pipelines"],
            # ... whose 22-way union makes the coverage phase thousands of cases: fuzzed only
            [*common, "--include-name", "POST /api/jobs", "--include-name", "POST /api/pipelines",
             "--phases", "examples,fuzzing"],
        ]  # fmt: skip
        done = [
            subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=600,
                env=os.environ | {"NO_COLOR": "1"},
            )
            for argv in runs
        ]
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)
    for run in done:
        report = run.stdout.split("=== FAILURES ===")[-1].split("=== WARNINGS ===")[0]
        summary = [
            line[:300]
            for line in report.splitlines()
            if any(
                mark in line for mark in ("____ ", "- ST", "Invalid component", "Allow", "[4", "[5")
            )
        ]
        assert run.returncode == 0, "\n".join(summary) + run.stderr[-2000:]
