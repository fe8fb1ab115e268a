"""The Celery app, built from settings.

Late acks, prefetch 1 and reject-on-worker-lost: a delivered message is acked only after its
job's outcome is written. mediaq's workers keep delivered messages in memory, not in Redis
(``tasks.worker_broker``: no ack emulation), so nothing is ever redelivered because a job is
long; the 14-day visibility timeout below only holds for a stock Celery worker pointed at
these queues. Lost workers are detected by the job heartbeat instead, and a redelivered
message for a job already claimed is dropped.
"""

from __future__ import annotations

from celery import Celery

from mediaq.queues import PRIORITY_LEVELS, cpu_queue
from mediaq.settings import Settings

RUN_JOB = "mediaq.run_job"
VISIBILITY_TIMEOUT_S = 14 * 24 * 3600


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the Redis broker of ``settings``."""
    app = Celery("mediaq", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=cpu_queue(settings.queue_prefix),
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            # one Redis list per level, popped most urgent first (mediaq.queues.broker_level)
            "priority_steps": list(range(PRIORITY_LEVELS)),
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    return app
