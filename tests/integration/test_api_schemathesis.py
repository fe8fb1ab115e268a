"""Schemathesis against ``/openapi.json``: no 500 and no response outside the schema.

Every operation gets a few generated requests, valid and invalid (negative mode), with an
admin token so the admin routes are exercised past their auth check, on a database with
some rows. Bounded: ``MAX_EXAMPLES`` per operation and mode, the whole run well under a
minute.
"""

from __future__ import annotations

from typing import Any

import httpx
import redis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mediaq.settings import Settings
from tests.integration.apiharness import admin_headers, connect, insert_media, live_server

MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed_rows(settings: Settings) -> None:
    insert_media(settings, 3, duration_seconds=120, orientation="landscape")
    with connect(settings) as conn:
        conn.execute(
            "INSERT INTO videos (path, filename, title, duration_seconds) "
            "VALUES ('/lib/a.mp4', 'a.mp4', 'A', 60)"
        )


def _exercise(operation: Any, base: str, headers: dict[str, str], mode: GenerationMode) -> int:
    """Run generated cases of one operation through every check; how many were sent."""
    sent = 0

    @hsettings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        nonlocal sent
        case = data.draw(operation.as_strategy(generation_mode=mode))
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
        sent += 1

    try:
        check()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): negative mode has no cases.
        assert mode is GenerationMode.NEGATIVE
    return sent


def test_every_operation_conforms_to_the_openapi_document(
    settings: Settings, redis_client: redis.Redis
) -> None:
    _seed_rows(settings)
    with live_server(settings) as base:
        doc = httpx.get(f"{base}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(doc)
        headers = admin_headers(settings)
        operations = [result.ok() for result in schema.get_all_operations()]
        calls = 0
        assert len(operations) >= 25
        for operation in operations:
            # Job creation would flood the queue with real work; its contract is the job API's.
            if operation.method.upper() == "POST" and operation.path in (
                "/api/jobs",
                "/api/pipelines",
            ):
                continue

            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                calls += _exercise(operation, base, headers, mode)
        assert calls >= 4 * len(operations) / 2
    for key in redis_client.scan_iter(f"{settings.queue_prefix}:*"):
        redis_client.delete(key)
