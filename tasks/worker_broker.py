"""The worker's side of the Redis broker, cheaper per task than stock Celery's.

A worker's main process is the one process every task passes through, and on a small host it
is what bounds the drain. Three of its per-task costs are Celery's and kombu's defaults, not
the work:

- **Task events are flushed at most every ``EVENT_FLUSH_S``.** Celery buffers the
  ``task-received``, ``task-started`` and ``task-succeeded`` events and publishes the buffer
  as one ``task.multi`` message, but schedules that publish for the event loop's next turn,
  so a busy worker still pays one Redis round trip per task. Here the buffer is published at
  most ``EVENT_FLUSH_S`` after its first event (or at once when it holds Celery's 24), so
  Flower shows a task at most that much later. Nothing else reads these events: a job's
  state is its row.
- **No ack emulation.** kombu's Redis transport emulates AMQP acks by writing every
  delivered message to an *unacked* hash and index (one MULTI/EXEC per delivery) and removing
  it again on the ack (another), so that a worker that dies mid-task has its messages put
  back after the visibility timeout. mediaq never relies on that: the visibility timeout is
  14 days (``mediaq.celeryapp``), and a job whose worker died is recovered from its row, by
  the scheduler's claim-timeout rescue (queued, never claimed: published again) or its
  heartbeat rescue (running: retried). Here a delivered message is kept in the worker's
  memory until its ack (kombu's plain virtual QoS: the prefetch window works as before, a
  task whose pool process died is requeued, a clean stop puts back what was delivered and
  not run), and Redis sees no write per delivery or per ack.
- **One Redis client per channel.** kombu builds a new ``redis.Redis`` object for every
  command it sends outside the consuming connection (each publish of task events, a
  requeue), about 0.1 ms each. The client is only a handle on the channel's
  connection pool, so one per channel serves them all.

All are installed by ``tasks.worker_entry`` through Celery's own settings
(``worker_consumer``, ``broker_transport``); the scheduler and the API, which only publish,
keep kombu's defaults.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.transport import redis as kombu_redis

EVENT_FLUSH_S = 0.05
# A flush scheduled this long ago that never ran (its loop was torn down by a reconnect) no
# longer holds the next one back.
STALE_FLUSH_S = 1.0

CONSUMER = f"{__name__}:Consumer"
TRANSPORT = f"{__name__}:Transport"


class Consumer(CeleryConsumer):
    """Celery's consumer, publishing buffered task events on a timer."""

    _flush_due: float | None = None

    def on_send_event_buffered(self) -> None:
        if not self.hub:
            return
        now = time.monotonic()
        if self._flush_due is not None and now < self._flush_due + STALE_FLUSH_S:
            return  # a flush is on its way and will carry this event too
        self._flush_due = now + EVENT_FLUSH_S
        self.hub.call_later(EVENT_FLUSH_S, self._flush_buffered_events)

    def _flush_buffered_events(self) -> None:
        self._flush_due = None
        self._flush_events()


class Channel(kombu_redis.Channel):
    """kombu's Redis channel without ack emulation, sending its one-off commands through
    one client."""

    ack_emulation = False  # kombu then takes its in-memory ``virtual.QoS``
    _own_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._own_client is None:
            self._own_client = self._create_client()
        yield self._own_client


class Transport(kombu_redis.Transport):
    Channel = Channel
