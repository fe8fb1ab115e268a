"""Params are validated at enqueue, through every door: the API (single, bulk, pipelines),
the Python ``enqueue`` and the CLI. A bad key is a 400 naming it, and no row is written."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api_shim.auth import mint_token
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.errors import ValidationError
from mediaq.jobtypes import JOB_TYPES
from mediaq.settings import Settings, settings_to_env
from tests.integration.apiharness import live_server
from tests.integration.fleet import scalar
from tests.jobtype_cases import bad_cases, example


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    token = mint_token(settings, 1, "admin")
    with (
        live_server(settings) as base,
        httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as test_client,
    ):
        yield test_client


def jobs(settings: Settings) -> int:
    return int(scalar(settings, "SELECT count(*) FROM jobs"))


def test_every_type_accepts_its_example_and_refuses_each_bad_key(
    client: httpx.Client, settings: Settings
) -> None:
    for name, kind in JOB_TYPES.items():
        before = jobs(settings)
        for key, params in bad_cases(name):
            response = client.post("/api/jobs", json={"type": name, "params": params})
            assert response.status_code == 400, (name, key, response.text)
            assert set(response.json()) == {"error"}
            assert f"params.{key}" in response.json()["error"], (name, key)
        assert jobs(settings) == before, name
        created = client.post("/api/jobs", json={"type": name, "params": example(kind)})
        assert created.status_code == 201, (name, created.text)
        assert created.json()["job"]["params"] == example(kind)


def test_the_reported_case_is_refused_before_any_row(
    client: httpx.Client, settings: Settings
) -> None:
    response = client.post("/api/jobs", json={"type": "generate_gif", "params": {"videoId": "abc"}})
    assert response.status_code == 400
    assert response.json()["error"].startswith("params.videoId:")
    bulk = {"jobs": [{"type": "noop"}, {"type": "scan", "params": {"root": 5}}]}
    response = client.post("/api/jobs", json=bulk)
    assert response.status_code == 400 and "params.root" in response.json()["error"]
    steps = [{"type": "noop"}, {"type": "thumbnail", "params": {}, "dependsOn": [0]}]
    response = client.post("/api/pipelines", json={"name": "p", "steps": steps})
    assert response.status_code == 400 and "params.videoId" in response.json()["error"]
    assert jobs(settings) == 0
    assert scalar(settings, "SELECT count(*) FROM pipelines") == 0


def test_a_fetch_url_of_the_wrong_shape_is_refused_at_enqueue(
    client: httpx.Client, settings: Settings
) -> None:
    for url in ("ftp://x", "file:///etc/passwd", "https://"):
        response = client.post("/api/jobs", json={"type": "fetch", "params": {"url": url}})
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"].startswith("params.url:"), url
    assert jobs(settings) == 0
    kept = client.post("/api/jobs", json={"type": "fetch", "params": {"url": "https://h/a.mp4"}})
    assert kept.status_code == 201, kept.text


def test_python_enqueue_and_the_cli_refuse_bad_params(settings: Settings) -> None:
    with (
        pytest.raises(ValidationError, match=r"params\.videoIds"),
        transaction(settings.database_url) as session,
    ):
        enqueue(session, JobSpec("compile_quad", {"videoIds": [1, 2]}))
    env: dict[str, Any] = os.environ | settings_to_env(settings)
    argv = [sys.executable, "-m", "ops.cli", "enqueue", "digest", "--param", "videoId=x"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "params.videoId" in done.stderr
    assert jobs(settings) == 0
