"""docker-compose.yml validates with Docker Compose and describes the deployment we promise.

``docker compose config`` needs no engine. The test is skipped only where no Compose client
exists at all, and fails instead under CI (``scripts/bootstrap`` installs one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
LONG_RUNNING = ("postgres", "redis", "api", "scheduler", "worker-cpu", "worker-gpu", "flower")


def compose_command() -> list[str]:
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        if subprocess.run([*cmd, "version"], capture_output=True).returncode == 0:
            return cmd
    if os.environ.get("CI"):
        pytest.fail("no Docker Compose client; scripts/bootstrap should have installed one")
    pytest.skip("no Docker Compose client here (scripts/bootstrap installs one)")


def run_config(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"} | env_extra
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), "config", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = run_config({"JWT_SECRET": "compose-test-secret"}, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_compose_config_validates(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {*LONG_RUNNING, "migrate"}


def test_jwt_secret_is_required() -> None:
    done = run_config({}, "--quiet")
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr


def test_postgres_16_with_a_volume_and_redis(config: dict[str, Any]) -> None:
    pg = config["services"]["postgres"]
    assert pg["image"].startswith("postgres:16")
    mounts = {v["target"]: v for v in pg["volumes"]}
    assert mounts["/var/lib/postgresql/data"]["type"] == "volume"
    assert "pgdata" in config["volumes"]
    assert config["services"]["redis"]["image"].startswith("redis:")


def test_migrations_run_once_before_everything_else(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "scheduler", "worker-cpu", "worker-gpu", "flower"):
        dep = services[name]["depends_on"]["migrate"]
        assert dep["condition"] == "service_completed_successfully", name


def test_api_on_4100_and_flower_on_5555(config: dict[str, Any]) -> None:
    api_ports = config["services"]["api"]["ports"]
    assert any(p["target"] == 4100 and p["published"] == "4100" for p in api_ports)
    flower = config["services"]["flower"]
    assert any(p["target"] == 5555 and p["published"] == "5555" for p in flower["ports"])
    assert flower["command"][0] == "flower"


def test_two_scheduler_replicas(config: dict[str, Any]) -> None:
    scheduler = config["services"]["scheduler"]
    assert scheduler["deploy"]["replicas"] == 2
    assert scheduler["command"] == ["scheduler"]
    assert "container_name" not in scheduler  # replicas need generated names


def test_cpu_worker_and_gpu_worker_reserving_nvidia_gpus(config: dict[str, Any]) -> None:
    cpu = config["services"]["worker-cpu"]
    assert cpu["command"] == ["worker", "--classes", "cpu"]
    gpu = config["services"]["worker-gpu"]
    assert gpu["command"] == ["worker", "--classes", "gpu_encode,gpu_ai"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"] and "video" in device["capabilities"]
    assert "video" in gpu["environment"]["NVIDIA_DRIVER_CAPABILITIES"]
    assert cpu["environment"]["MEDIAQ_HOST"] != gpu["environment"]["MEDIAQ_HOST"]


def test_every_service_has_a_health_check(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
    role_checks = {
        name: config["services"][name]["healthcheck"]["test"][-1]
        for name in ("api", "scheduler", "worker-cpu", "worker-gpu", "flower", "migrate")
    }
    assert role_checks == {
        "api": "api",
        "scheduler": "scheduler",
        "worker-cpu": "worker",
        "worker-gpu": "worker",
        "flower": "flower",
        "migrate": "migrate",
    }


def test_services_share_the_library_and_one_database(config: dict[str, Any]) -> None:
    urls = set()
    for name in ("api", "scheduler", "worker-cpu", "worker-gpu", "flower", "migrate"):
        env = config["services"][name]["environment"]
        urls.add((env["DATABASE_URL"], env["REDIS_URL"]))
        assert env["JWT_SECRET"] == "compose-test-secret"
    assert len(urls) == 1
    for name in ("api", "worker-cpu", "worker-gpu"):
        targets = {v["target"] for v in config["services"][name]["volumes"]}
        assert "/data/library" in targets, name


def test_dockerfile_installs_ffmpeg_and_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ffmpeg" in text
    assert 'ENTRYPOINT ["mediaq"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_operations_doc_lists_every_setting() -> None:
    from mediaq.settings import _ENV_NAMES

    doc = (ROOT / "docs" / "operations.md").read_text()
    missing = [var for var in _ENV_NAMES.values() if f"`{var}`" not in doc]
    assert missing == [], f"docs/operations.md does not describe {missing}"
