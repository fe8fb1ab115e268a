"""The engine end to end on real PostgreSQL, Redis and Celery: every job runs exactly once,
in exact priority order, even when Redis loses everything."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue, enqueue_many
from mediaq.queues import cpu_queue, level_lists
from mediaq.settings import Settings
from tests.integration.fleet import fleet, query, scalar, status_counts, wait_until


def test_thousand_noop_jobs_all_complete_each_claimed_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(7)
    with transaction(settings.database_url) as session:
        enqueue_many(session, [JobSpec("noop", priority=rng.randint(0, 9)) for _ in range(1000)])
    with fleet(settings, tmp_path):
        wait_until(
            lambda: status_counts(settings).get("completed", 0) == 1000, 120, what="1000 done"
        )
    # attempt is bumped by every claim: 1 means exactly one delivery ever ran the job
    assert query(settings, "SELECT attempt, count(*) AS n FROM jobs GROUP BY attempt") == [
        (1, 1000)
    ]
    assert scalar(settings, "SELECT count(*) FROM jobs WHERE failures > 0") == 0


def test_later_higher_priority_jobs_start_before_every_waiting_lower_one(
    settings: Settings, tmp_path: Path
) -> None:
    one_slot = replace(settings, concurrency=1)
    with fleet(one_slot, tmp_path):
        with transaction(settings.database_url) as session:
            blocker = enqueue(session, JobSpec("noop", {"seconds": 2}, priority=5))
        wait_until(
            lambda: (
                scalar(settings, "SELECT status FROM jobs WHERE id = :i", i=blocker) == "running"
            ),
            30,
            what="blocker running",
        )
        # the only slot is busy: lows arrive first, then highs, interleaved in time
        with transaction(settings.database_url) as session:
            lows = enqueue_many(session, [JobSpec("noop", priority=1) for _ in range(8)])
        with transaction(settings.database_url) as session:
            mids = enqueue_many(session, [JobSpec("noop", priority=5) for _ in range(4)])
        with transaction(settings.database_url) as session:
            highs = enqueue_many(session, [JobSpec("noop", priority=9) for _ in range(8)])
        total = 1 + len(lows) + len(mids) + len(highs)
        wait_until(lambda: status_counts(settings).get("completed") == total, 60, what="all done")
    started = [
        r.id
        for r in query(
            settings, "SELECT id FROM jobs WHERE id <> :b ORDER BY started_at", b=blocker
        )
    ]
    # exact order: priority desc, then created_at (ids break ties in insertion order)
    assert started == highs + mids + lows


def test_redis_losing_every_message_while_jobs_are_queued_loses_nothing_and_runs_nothing_twice(
    settings: Settings, tmp_path: Path, redis_client: object
) -> None:
    # lookahead lets the broker hold 200 messages at once, so the loss really loses them
    s = replace(settings, lookahead=250, claim_timeout_s=3.0)
    with fleet(s, tmp_path):
        with transaction(settings.database_url) as session:
            enqueue_many(session, [JobSpec("noop", {"seconds": 0.05}) for _ in range(200)])
        wait_until(lambda: status_counts(settings).get("queued", 0) >= 150, 30, what="jobs queued")
        lists = level_lists(cpu_queue(s.queue_prefix))

        def in_redis() -> int:
            return sum(redis_client.llen(key) for key in lists)  # type: ignore[attr-defined]

        in_broker = wait_until(
            lambda: in_redis() > 100 and in_redis(), 10, what="messages in Redis"
        )
        # what a flushed or restarted Redis does to this deployment, without touching the
        # shared server's other keys: every waiting message of the queue is gone
        redis_client.delete(*lists)  # type: ignore[attr-defined]
        wait_until(lambda: status_counts(settings).get("completed") == 200, 90, what="all done")
    assert in_broker > 100  # the flush really lost messages
    assert query(settings, "SELECT attempt, count(*) AS n FROM jobs GROUP BY attempt") == [(1, 200)]
    republished = scalar(settings, "SELECT count(*) FROM jobs WHERE log LIKE '%published again%'")
    assert republished >= in_broker  # every message Redis lost was published again
