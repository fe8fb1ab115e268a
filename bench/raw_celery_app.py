"""A bare Celery app for the baseline: the same broker settings as mediaq, a no-op task.

Each execution stamps Redis, so the drain rate is measured from the first to the last task.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

from mediaq.celeryapp import create_celery
from mediaq.settings import Settings

QUEUE = os.environ.get("BENCH_QUEUE", "bench.raw")
KEY = os.environ.get("BENCH_KEY", "bench:raw")

app: Celery = create_celery(Settings.from_env())
app.conf.task_default_queue = QUEUE
_redis: redis.Redis | None = None


@app.task(name="bench.noop")
def noop() -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(app.conf.broker_url)
    now = time.time()
    pipe = _redis.pipeline()
    pipe.set(f"{KEY}:first", now, nx=True)
    pipe.set(f"{KEY}:last", now)
    pipe.incr(f"{KEY}:count")
    pipe.execute()
