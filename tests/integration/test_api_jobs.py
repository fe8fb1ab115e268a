"""The job API (admin JWT): enqueue, bulk, list, get, cancel, retry, queue view, pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api_shim.auth import mint_token
from mediaq.settings import Settings
from tests.integration.apiharness import live_server
from tests.integration.fleet import scalar, status_counts

SEED_JOB_KEYS = {
    "id", "type", "status", "progress", "log", "params", "startedAt", "completedAt",
    "createdAt", "resourceCategory", "vramRequired", "queuePosition", "waitingReason",
    "priority", "pipelineId", "pipelineStepId",
}  # fmt: skip
ENGINE_KEYS = {"attempt", "result", "assignedHost", "assignedGpu", "waitingCode", "heartbeatAt"}


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as test_client:
        yield test_client


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 1, 'admin')}"}


def post(client: httpx.Client, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(path, json=body, headers=headers)


def test_enqueue_returns_201_with_every_column_in_camel_case(
    client: httpx.Client, admin: dict[str, str]
) -> None:
    response = post(
        client, "/api/jobs", {"type": "reencode_streaming", "params": {"videoId": 3}}, admin
    )
    assert response.status_code == 201
    job = response.json()["job"]
    assert set(job) >= SEED_JOB_KEYS | ENGINE_KEYS
    assert (job["status"], job["priority"], job["resourceCategory"], job["vramRequired"]) == (
        "pending", 5, "gpu_encode", 1024,
    )  # fmt: skip
    assert job["attempt"] == 0 and job["params"] == {"videoId": 3}
    assert job["createdAt"].endswith("Z")


def test_overrides_are_honoured(client: httpx.Client, admin: dict[str, str]) -> None:
    body = {"type": "noop", "priority": 9, "resourceCategory": "gpu_ai", "vramRequired": 4096}
    job = post(client, "/api/jobs", body, admin).json()["job"]
    assert (job["priority"], job["resourceCategory"], job["vramRequired"]) == (9, "gpu_ai", 4096)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "nope"},
        {"type": 7},
        {"type": "noop", "params": [1]},
        {"type": "noop", "priority": "high"},
        {"type": "noop", "priority": 1.5},
        {"type": "noop", "priority": 10**9},
        {"type": "noop", "resourceCategory": "tpu"},
        {"type": "noop", "vramRequired": -5},
        {"type": "noop", "vramRequired": True},
        {"jobs": []},
        {"jobs": "noop"},
        {"jobs": [{"type": "noop"}, {"type": "nope"}]},
    ],
)
def test_bad_input_is_a_400_with_an_error_and_writes_nothing(
    client: httpx.Client, admin: dict[str, str], settings: Settings, body: dict[str, Any]
) -> None:
    response = post(client, "/api/jobs", body, admin)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and response.json()["error"]
    assert scalar(settings, "SELECT count(*) FROM jobs") == 0


def test_malformed_json_is_a_400(client: httpx.Client, admin: dict[str, str]) -> None:
    headers = admin | {"Content-Type": "application/json"}
    response = client.post("/api/jobs", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert "error" in response.json()


def test_job_api_needs_an_admin_token(client: httpx.Client, settings: Settings) -> None:
    assert client.post("/api/jobs", json={"type": "noop"}).status_code == 401
    user = {"Authorization": f"Bearer {mint_token(settings, 2, 'user')}"}
    assert client.post("/api/jobs", json={"type": "noop"}, headers=user).status_code == 403
    assert client.get("/api/jobs", headers=user).status_code == 403
    assert scalar(settings, "SELECT count(*) FROM jobs") == 0


def test_bulk_enqueue_keeps_order(
    client: httpx.Client, admin: dict[str, str], settings: Settings
) -> None:
    body = {"jobs": [{"type": "noop", "params": {"i": i}} for i in range(500)]}
    response = post(client, "/api/jobs", body, admin)
    assert response.status_code == 201
    ids = response.json()["jobIds"]
    assert len(ids) == 500 and ids == sorted(ids)
    assert scalar(settings, "SELECT params->>'i' FROM jobs WHERE id = :i", i=ids[123]) == "123"


def test_list_filters_and_paginates(client: httpx.Client, admin: dict[str, str]) -> None:
    post(client, "/api/jobs", {"jobs": [{"type": "noop"}] * 7}, admin)
    post(client, "/api/jobs", {"type": "scan", "params": {"root": "/x"}}, admin)
    page = client.get("/api/jobs?type=noop&limit=5&offset=5", headers=admin).json()
    assert page["pagination"] == {
        "total": 7,
        "limit": 5,
        "offset": 5,
        "hasMore": False,
        "nextBefore": page["jobs"][-1]["id"],  # the keyset page after this one
    }
    assert len(page["jobs"]) == 2
    capped = client.get("/api/jobs?limit=5000", headers=admin).json()
    assert capped["pagination"]["limit"] == 100
    assert client.get("/api/jobs?status=weird", headers=admin).status_code == 400
    assert client.get("/api/jobs?limit=abc", headers=admin).status_code == 400


def test_pending_jobs_show_their_live_position(client: httpx.Client, admin: dict[str, str]) -> None:
    low = post(client, "/api/jobs", {"type": "noop", "priority": 1}, admin).json()["job"]
    post(client, "/api/jobs", {"type": "noop", "priority": 8}, admin)
    job = client.get(f"/api/jobs/{low['id']}", headers=admin).json()
    assert job["queuePosition"] == 2
    assert job["waitingCode"] == "PRIORITY"


def test_cancel_and_retry(client: httpx.Client, admin: dict[str, str], settings: Settings) -> None:
    job = post(client, "/api/jobs", {"type": "noop"}, admin).json()["job"]
    cancelled = client.post(f"/api/jobs/{job['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200 and cancelled.json()["job"]["status"] == "cancelled"
    again = client.post(f"/api/jobs/{job['id']}/cancel", headers=admin)
    assert again.status_code == 409 and "error" in again.json()
    retried = client.post(f"/api/jobs/{job['id']}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json()["job"]["status"] == "pending"
    assert client.post(f"/api/jobs/{job['id']}/retry", headers=admin).status_code == 409
    assert client.post("/api/jobs/999999/cancel", headers=admin).status_code == 404
    assert client.get("/api/jobs/abc", headers=admin).status_code == 404  # ids are integers
    assert client.get("/api/jobs/99999999999", headers=admin).status_code == 400
    assert status_counts(settings) == {"pending": 1}


def test_queue_view_shape(client: httpx.Client, admin: dict[str, str]) -> None:
    post(
        client,
        "/api/jobs",
        {"jobs": [{"type": "noop"}, {"type": "tag_generation", "params": {"videoId": 1}}]},
        admin,
    )
    view = client.get("/api/jobs/queue", headers=admin).json()
    assert set(view["classes"]) == {"cpu", "gpu_ai", "gpu_encode"}
    assert view["classes"]["cpu"] == {"pending": 1, "queued": 0, "running": 0}
    assert view["classes"]["gpu_ai"]["pending"] == 1
    assert view["hosts"] == []


def test_pipeline_create_and_get(client: httpx.Client, admin: dict[str, str]) -> None:
    body = {
        "name": "three",
        "steps": [
            {"type": "noop"},
            {"type": "noop", "dependsOn": [0]},
            {"type": "noop", "dependsOn": [0, 1]},
        ],
    }
    created = post(client, "/api/pipelines", body, admin)
    assert created.status_code == 201
    pipeline = created.json()["pipeline"]
    assert [s["stepIndex"] for s in pipeline["steps"]] == [0, 1, 2]
    jobs = created.json()["jobs"]
    assert [j["waitingCode"] for j in jobs] == [None, "DEPENDENCY", "DEPENDENCY"]
    fetched = client.get(f"/api/pipelines/{pipeline['id']}", headers=admin).json()
    assert fetched["pipeline"]["status"] == "running"
    assert fetched["pipeline"]["steps"][2]["dependsOn"] == [0, 1]


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [{"type": "noop", "dependsOn": [0]}],  # depends on itself
        [{"type": "noop"}, {"type": "noop", "dependsOn": [5]}],
        [{"type": "noop"}, {"type": "noop", "dependsOn": "0"}],
        [{"type": "bogus"}],
    ],
)
def test_bad_pipelines_are_refused(
    client: httpx.Client, admin: dict[str, str], settings: Settings, steps: list[Any]
) -> None:
    response = post(client, "/api/pipelines", {"name": "p", "steps": steps}, admin)
    assert response.status_code == 400
    assert scalar(settings, "SELECT count(*) FROM pipelines") == 0
    assert scalar(settings, "SELECT count(*) FROM jobs") == 0
