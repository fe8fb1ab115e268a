"""Entry module of a Celery worker process started by the host daemon.

``celery -A tasks.worker_entry worker ...`` imports this: settings are read from the
environment the daemon prepared, once.
"""

from __future__ import annotations

from celery.signals import worker_init, worker_process_init

from mediaq.celeryapp import create_celery
from mediaq.db import dispose_engines
from mediaq.lifeline import Lifeline
from mediaq.proctree import die_with_parent
from mediaq.settings import Settings
from tasks.preflight import gpu_preflight
from tasks.run_job import register_run_job
from tasks.worker_broker import CONSUMER, TRANSPORT

settings = Settings.from_env()
app = create_celery(settings)
# task events flushed on a timer, no ack emulation, one Redis client per channel
# (tasks.worker_broker)
app.conf.update(worker_consumer=CONSUMER, broker_transport=TRANSPORT)
# A GPU worker checks, through its host daemon, that the memory is still there before a job.
register_run_job(app, settings, preflight=gpu_preflight(settings) if settings.worker_gpu else None)


@worker_init.connect
def _watch_daemon(**_: object) -> None:
    # The main process ends its whole tree when its host daemon is gone or frozen.
    if settings.daemon_pid:
        Lifeline(settings.host_name, settings.daemon_pid, settings.heartbeat_timeout_s).start()


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # A pool child dies with its Celery main process, and never reuses its connections.
    die_with_parent()
    dispose_engines(close=False)
