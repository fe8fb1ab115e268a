"""Shared fixtures: a template database migrated once, cloned per test; real Redis.

Each test gets its own database (``CREATE DATABASE ... TEMPLATE``), its own broker queue
prefix and its own host name, so test runs side by side never see each other's jobs.
A missing PostgreSQL or Redis fails the run: these tests never mock the services.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from mediaq.db import dispose_engines
from mediaq.migrate import upgrade_to_head
from mediaq.settings import LIMIT_FIELDS, Settings

ADMIN_URL = os.environ.get("MEDIAQ_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIAQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256"


def _url_for(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    name = f"mq_tpl_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    upgrade_to_head(_url_for(name))
    dispose_engines()
    yield name
    dispose_engines()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(template_db: str) -> Iterator[str]:
    name = f"mq_t_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    yield _url_for(name)
    dispose_engines()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_db() -> Iterator[str]:
    """A database with no schema at all, for migrating up (and back) revision by revision."""
    name = f"mq_e_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name}")
    yield _url_for(name)
    dispose_engines()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


# Tests' timing: two slots, liveness in seconds rather than tens of seconds, passes often;
# no task events (no Flower watches the tests).
FAST_TIMING: dict[str, object] = {
    "concurrency": 2,
    "heartbeat_interval_s": 0.5,
    "heartbeat_timeout_s": 3.0,
    "claim_timeout_s": 5.0,
    "host_timeout_s": 3.0,
    "scheduler_tick_s": 0.2,
    "cancel_poll_s": 0.2,
    "task_events": False,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of one isolated test fleet: fast ticks, short timeouts."""
    tag = uuid.uuid4().hex[:8]
    library = tmp_path / "library"
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        jwt_secret=TEST_SECRET,
        enable_media_features=True,
        queue_prefix=f"mqt{tag}",
        host_name=f"host-{tag}",
        library_root=str(library),
        public_root=str(library / "public"),
        output_root=str(library / "output"),
        thumbnail_root=str(library / "thumbnails"),
        **FAST_TIMING,
        fetch_allow_private=True,  # the fetch tests serve files from 127.0.0.1
        # The public-write guards stay on (every request goes through them) with bounds the
        # race and contract tests never reach: hundreds of sessions from one test client.
        # tests/integration/test_gallery_guard.py sets and tests real limits.
        **{name: "100000/minute" for name in LIMIT_FIELDS},
        sessions_per_address=100_000,
    ).validated()
