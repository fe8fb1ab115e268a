"""The scheduler's batched publish writes what Celery's own ``send_task`` writes."""

from __future__ import annotations

import json

import redis

from mediaq.celeryapp import RUN_JOB, create_celery
from mediaq.queues import broker_level, level_list, level_lists, queue_for, task_id
from mediaq.settings import Settings
from mediaq.transitions import Admitted
from scheduler.dispatch import Publisher


def _pop_all(client: redis.Redis, queue: str) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    for key in level_lists(queue):
        raw = client.lrange(key, 0, -1)
        if raw:
            found[key] = [json.loads(m) for m in raw]  # type: ignore[union-attr]
        client.delete(key)
    return found


def test_a_batch_publish_equals_send_task_message_for_message(
    settings: Settings, redis_client: redis.Redis
) -> None:
    app = create_celery(settings)
    jobs = [Admitted(7, 0, None, 5), Admitted(8, 2, None, 10), Admitted(9, 0, "GPU-a", -3)]
    publisher = Publisher(app, settings.queue_prefix, settings.redis_url)
    assert publisher.publish(jobs)
    ours = {
        q: _pop_all(redis_client, q)
        for q in {queue_for(settings.queue_prefix, j.gpu_uuid) for j in jobs}
    }
    with app.producer_or_acquire() as producer:
        for job in jobs:
            app.send_task(
                RUN_JOB,
                args=[job.job_id, job.attempt],
                task_id=task_id(job.job_id, job.attempt),
                queue=queue_for(settings.queue_prefix, job.gpu_uuid),
                priority=broker_level(job.priority),
                producer=producer,
            )
    theirs = {q: _pop_all(redis_client, q) for q in ours}
    for found in (ours, theirs):
        for lists in found.values():
            for messages in lists.values():
                for m in messages:
                    m["properties"].pop("delivery_tag")  # type: ignore[attr-defined]
    assert ours == theirs
    cpu = queue_for(settings.queue_prefix, None)
    assert set(ours[cpu]) == {level_list(cpu, 0), level_list(cpu, 5)}
    publisher.close()


def test_a_publish_to_a_dead_redis_reports_failure_instead_of_raising(
    settings: Settings,
) -> None:
    app = create_celery(settings)
    publisher = Publisher(app, settings.queue_prefix, "redis://127.0.0.1:1/0")
    assert publisher.publish([Admitted(1, 0, None)]) is False


def test_jobs_of_one_level_are_taken_in_admission_order(
    settings: Settings, redis_client: redis.Redis
) -> None:
    publisher = Publisher(create_celery(settings), settings.queue_prefix, settings.redis_url)
    jobs = [Admitted(i, 0, None, 5) for i in (30, 10, 20)]
    assert publisher.publish(jobs)
    key = level_list(queue_for(settings.queue_prefix, None), broker_level(5))
    popped = [json.loads(redis_client.rpop(key))["headers"]["id"] for _ in jobs]  # type: ignore[arg-type]
    assert popped == [task_id(j.job_id, j.attempt) for j in jobs]
    publisher.close()
