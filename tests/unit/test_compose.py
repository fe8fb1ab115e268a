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
LONG_RUNNING = (
    "postgres",
    "redis",
    "api",
    "web",
    "scheduler",
    "worker-cpu",
    "worker-gpu",
    "flower",
)


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


SECRETS = {
    "JWT_SECRET": "compose-test-secret",
    "POSTGRES_PASSWORD": "pg-test-password",
    "REDIS_PASSWORD": "redis-test-password",
}


def run_config(
    env_extra: dict[str, str], *args: str, compose_file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | env_extra
    return subprocess.run(
        [*compose_command(), "-f", str(compose_file), "config", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = run_config(SECRETS, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_compose_config_validates(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {*LONG_RUNNING, "migrate"}


def test_jwt_secret_and_both_service_passwords_are_required() -> None:
    for name in SECRETS:
        done = run_config({k: v for k, v in SECRETS.items() if k != name}, "--quiet")
        assert done.returncode != 0, name
        assert name in done.stderr


def test_postgres_and_redis_listen_only_with_passwords_on_the_chosen_address(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    redis = services["redis"]
    assert "requirepass" in " ".join(redis["command"])
    assert "redis-test-password" not in " ".join(redis["command"])  # not visible in ps
    assert services["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    for name in ("postgres", "redis"):
        assert [p["host_ip"] for p in services[name]["ports"]] == ["127.0.0.1"], name
    env = services["api"]["environment"]
    assert env["REDIS_URL"] == "redis://:redis-test-password@redis:6379/0"
    assert env["DATABASE_URL"].startswith("postgresql://mediaq:pg-test-password@postgres:")
    fleet = run_config(SECRETS | {"MEDIAQ_SERVICES_BIND": "10.0.0.10"}, "--format", "json")
    published = json.loads(fleet.stdout)["services"]["redis"]["ports"]
    assert [p["host_ip"] for p in published] == ["10.0.0.10"]


def test_the_worker_host_file_runs_only_the_worker_from_its_env_file(tmp_path: Path) -> None:
    worker_file = tmp_path / "docker-compose.worker.yml"
    worker_file.write_text((ROOT / "docker-compose.worker.yml").read_text())
    (tmp_path / "Dockerfile").write_text("")
    missing = run_config({}, "--quiet", compose_file=worker_file)
    assert missing.returncode != 0  # no worker.env, no library mount: refused
    env_text = (ROOT / "deploy" / "worker.env.example").read_text()
    (tmp_path / "worker.env").write_text(env_text)
    done = run_config(
        {"MEDIAQ_LIBRARY_MOUNT": "/mnt/library"},
        "--format",
        "json",
        compose_file=worker_file,
    )
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) == {"worker"}
    worker = services["worker"]
    assert worker["command"] == ["worker"] and "ports" not in worker
    env = worker["environment"]
    assert env["REDIS_URL"].startswith("redis://:") and "@" in env["DATABASE_URL"]
    assert env["MEDIAQ_CLASSES"] == "gpu_encode,gpu_ai"
    mounts = {v["target"]: v["source"] for v in worker["volumes"]}
    assert mounts["/data/library"] == "/mnt/library"
    assert env["MEDIAQ_LIBRARY_ROOT"] == "/data/library"
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"


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


def test_api_on_4100_behind_nginx_and_flower_on_5555(config: dict[str, Any]) -> None:
    web = config["services"]["web"]
    assert any(p["target"] == 8080 and p["published"] == "4100" for p in web["ports"])
    assert "ports" not in config["services"]["api"]  # reached only through nginx
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server api:4100;" in conf and "listen 8080;" in conf
    accel = config["services"]["api"]["environment"]["MEDIAQ_ACCEL_REDIRECT"]
    for root in ("public", "thumbnails"):
        assert f"location {accel}/{root}/ {{\n            internal;" in conf
        assert f"alias /data/library/{root}/;" in conf
    mounts = {v["target"]: v for v in web["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"]["read_only"] is True
    assert mounts["/data/library"]["read_only"] is True
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
        assert env["JWT_SECRET"] == SECRETS["JWT_SECRET"]
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
