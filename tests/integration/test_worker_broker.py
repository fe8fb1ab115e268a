"""The worker's side of the broker on a real worker: task events as Flower reads them, flushed
on a timer, and delivered messages held in the worker's memory, not in Redis."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from mediaq.celeryapp import create_celery
from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue_many
from mediaq.queues import cpu_queue
from mediaq.settings import Settings
from tests.integration.fleet import fleet, status_counts, wait_for_workers, wait_until

JOBS = 150


def test_every_task_event_reaches_a_monitor_in_far_fewer_messages_than_tasks(
    settings: Settings, tmp_path: Path
) -> None:
    s = replace(settings, task_events=True)
    app = create_celery(s)
    worker = f"cpu@{s.host_name}-w0"
    messages: list[Any] = []  # each message on the event exchange: one event or a list
    events: list[dict[str, Any]] = []

    with fleet(s, tmp_path, workers=1), app.connection() as conn:
        wait_for_workers(s, 1)

        class Recording(app.events.Receiver):  # type: ignore[name-defined,misc]
            def _receive(self, body: Any, message: Any, **kw: Any) -> None:
                batch = body if isinstance(body, list) else [body]
                ours = [e for e in batch if e.get("hostname") == worker]
                if ours and ours[0]["type"].startswith("task-"):
                    messages.append(body)
                    events.extend(ours)

        receiver = Recording(conn, handlers={}, app=app)
        listening = threading.Thread(target=receiver.capture, kwargs={"wakeup": False})
        listening.start()
        try:
            time.sleep(1.0)  # subscribed before the first job
            with transaction(s.database_url) as session:
                ids = enqueue_many(session, [JobSpec("noop") for _ in range(JOBS)])
            wait_until(
                lambda: status_counts(s).get("completed", 0) == JOBS, 60, what="all completed"
            )

            def succeeded() -> set[str]:
                return {e["uuid"] for e in list(events) if e["type"] == "task-succeeded"}

            # every task's success is shown, at most a flush interval after it
            wait_until(lambda: len(succeeded()) == JOBS, 10, what="every task-succeeded event")
        finally:
            receiver.should_stop = True
            listening.join(10)
    kinds = {e["type"] for e in events}
    assert {"task-received", "task-started", "task-succeeded"} <= kinds
    assert len(ids) == JOBS
    # Stock Celery publishes about one message per event (three per task) on a busy worker;
    # buffered for up to 50 ms, they travel many to a message.
    assert len(messages) < JOBS / 3, (len(messages), len(events))


def unacked_of(client: redis.Redis, queue: str) -> list[Any]:
    """The messages of kombu's unacked hash that were delivered from ``queue``."""
    return [v for v in client.hvals("unacked") if json.loads(v)[2].startswith(queue)]


def test_delivered_messages_stay_in_the_worker_and_a_clean_stop_leaves_the_queue_exact(
    settings: Settings, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    queue = cpu_queue(settings.queue_prefix)
    with fleet(settings, tmp_path, workers=1):
        wait_for_workers(settings, 1)
        with transaction(settings.database_url) as session:
            enqueue_many(session, [JobSpec("noop", {"seconds": 1.5}) for _ in range(6)])
        wait_until(lambda: status_counts(settings).get("running", 0) == 2, 20, what="2 running")
        # kombu's ack emulation writes each delivered message to its unacked hash (and takes
        # it out again on the ack): two round trips per task that mediaq's rescues make moot
        assert not unacked_of(client, queue)
        assert not client.zcard("unacked_index")
    # The stop let the two running jobs finish; the jobs never delivered still have exactly
    # one message each in the queue, and no finished job's message was put back.
    counts = status_counts(settings)
    in_queue = sum(client.llen(k) for k in client.keys(f"{queue}*"))
    assert counts.get("completed", 0) >= 2
    assert in_queue == counts.get("queued", 0) == 6 - counts.get("completed", 0)
    assert not unacked_of(client, queue)
