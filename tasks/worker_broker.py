"""The worker's side of the Redis broker, cheaper per task than stock Celery's.

A worker's main process is the one process every task passes through, and on a small host it
is what bounds the drain. Two of its per-task costs are Celery's and kombu's defaults, not
the work:

- **Task events are flushed at most every ``EVENT_FLUSH_S``.** Celery buffers the
  ``task-received``, ``task-started`` and ``task-succeeded`` events and publishes the buffer
  as one ``task.multi`` message, but schedules that publish for the event loop's next turn,
  so a busy worker still pays one Redis round trip per task. Here the buffer is published at
  most ``EVENT_FLUSH_S`` after its first event (or at once when it holds Celery's 24), so
  Flower shows a task at most that much later. Nothing else reads these events: a job's
  state is its row.
- **An ack rides with the next delivery.** With late acks, kombu sends each ack as its own
  MULTI/EXEC round trip (removing the message from the unacked index), and each delivery's
  bookkeeping as another. Here the removals of acked messages wait, at most ``ACK_WRITE_S``,
  and are written in the same transaction as the next delivery's bookkeeping, or by the
  loop's timer when none comes. The prefetch window is freed at once, as before. A worker
  killed in between leaves those messages in the unacked index, where kombu would restore
  them only after the visibility timeout; a redelivered message of a finished job is then
  dropped by its claim, like any duplicate. A channel closing writes its acks first.
- **One Redis client per channel.** kombu builds a new ``redis.Redis`` object for every
  command it sends outside the consuming connection (each fanout publish, each ack, each
  delivery's bookkeeping), about 0.1 ms each. The client is only a handle on the channel's
  connection pool, so one per channel serves them all.

Both are installed by ``tasks.worker_entry`` through Celery's own settings
(``worker_consumer``, ``broker_transport``); the scheduler and the API keep kombu's defaults.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

EVENT_FLUSH_S = 0.05
ACK_WRITE_S = 0.05
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


class QoS(kombu_redis.QoS):
    """kombu's Redis ack emulation, its acks written in the next pipeline it opens (the
    next delivery's bookkeeping, in kombu's own ``append``) or by the loop's timer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acked: list[str] = []  # delivery tags whose removal is not written yet

    def ack(self, delivery_tag: str) -> None:
        self._acked.append(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)  # the prefetch window, at once

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        """kombu's pipeline for one write, opening with the removals of the acked messages
        (a pipeline handed in is one of ours already, used as it is)."""
        if pipe is not None:
            yield pipe
            return
        with super().pipe_or_acquire(None, client) as fresh:
            tags, self._acked = self._acked, []
            for tag in tags:
                self._remove_from_indices(tag, fresh)
            yield fresh

    def write_acks(self) -> None:
        """Write the acks still waiting (the loop's timer, a closing channel)."""
        if self._acked:
            with self.pipe_or_acquire() as pipe:
                pipe.execute()

    def restore_unacked(self, client: Any = None) -> None:
        self.write_acks()  # an acked message must not be put back
        super().restore_unacked(client)


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, sending its one-off commands through one client."""

    QoS = QoS
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

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        super().register_with_event_loop(connection, loop)
        loop.call_repeatedly(ACK_WRITE_S, self._write_acks)

    def _write_acks(self) -> None:
        for channel in list(self.channels):
            qos = channel._qos
            if qos is not None and not channel.closed:
                qos.write_acks()
