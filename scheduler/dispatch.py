"""Applying a plan: the atomic pending -> queued update (``mediaq.transitions.admit``), then
one Celery message per admitted job, and the waiting positions and reasons of the rest."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import redis
from celery import Celery
from sqlalchemy import Connection, text

from mediaq.celeryapp import RUN_JOB
from mediaq.queues import broker_level, level_list, queue_for, task_id
from mediaq.transitions import Admitted, admit, admit_cpu_head, admit_cpu_head_checked
from scheduler.model import Waiting

log = logging.getLogger(__name__)

__all__ = [
    "Admitted",
    "Publisher",
    "admit",
    "admit_cpu_head",
    "admit_cpu_head_checked",
    "clear_positions_outside",
    "write_waiting",
]


_ID, _ARGSREPR, _BODY, _QUEUE, _LEVEL, _TAG = (
    f"@@mediaq-{name}@@" for name in ("id", "argsrepr", "body", "queue", "level", "tag")
)


class Publisher:
    """Publishes admitted jobs as Celery task messages, all of one pass in one Redis round trip.

    ``app.send_task`` costs about a millisecond of Python per message; a scheduler feeding
    thousands of slots cannot spend that. The message is Celery's own (protocol 2 headers
    taken once from ``app.amqp.as_task_v2``); only the per-job fields (task id, args) and
    kombu's Redis envelope are filled in here, and every message of a pass goes out in one
    pipelined round trip, one ``LPUSH`` per list. ``tests/integration/test_publish.py``
    holds the result against what ``send_task`` itself writes.

    The task id is deterministic, so a republish of the same admission is recognisable.
    Publishing happens after the commit; a crash or a Redis outage in between is healed by
    the claim-timeout rescue, which publishes again. No ``task-sent`` event is sent: Flower
    learns of a task when a worker receives it.
    """

    def __init__(self, app: Celery, prefix: str, redis_url: str) -> None:
        self.prefix = prefix
        self._redis = redis.Redis.from_url(redis_url)
        # the same arguments ``app.send_task`` passes for a plain call
        template = app.amqp.as_task_v2(
            "template", RUN_JOB, args=[0, 0], reply_to=app.thread_oid, ignore_result=None
        )
        headers: dict[str, Any] = dict(template.headers)
        headers.update(id=_ID, root_id=_ID, argsrepr=_ARGSREPR)
        # The envelope is serialised once with markers; a message is the markers replaced.
        self._envelope: str = json.dumps(
            {
                "body": _BODY,
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": headers,
                "properties": {
                    "correlation_id": _ID,
                    "reply_to": template.properties.get("reply_to") or "",
                    "delivery_mode": 2,
                    "delivery_info": {"exchange": "", "routing_key": _QUEUE},
                    "priority": _LEVEL,
                    "body_encoding": "base64",
                    "delivery_tag": _TAG,
                },
            }
        ).replace(f'"{_LEVEL}"', _LEVEL)
        # Split once at the markers: a message is the literal parts joined with its values.
        fields = (_ID, _ARGSREPR, _BODY, _QUEUE, _LEVEL, _TAG)
        markers = re.compile("|".join(re.escape(m) for m in fields))
        self._literals: list[str] = markers.split(self._envelope)
        self._slots: list[str] = markers.findall(self._envelope)
        self._embed_json = json.dumps(template.body[2])

    def message(self, job: Admitted) -> tuple[str, bytes]:
        """The Redis list and the payload of one job's task message."""
        tid = task_id(job.job_id, job.attempt)
        args = f"[{job.job_id}, {job.attempt}]"  # json.dumps and repr agree on two ints
        queue = queue_for(self.prefix, job.gpu_uuid)
        level = broker_level(job.priority)
        body = base64.b64encode(f"[{args}, {{}}, {self._embed_json}]".encode()).decode()
        values = {
            _ID: tid,
            _ARGSREPR: args,
            _BODY: body,
            _QUEUE: queue,
            _LEVEL: str(level),
            _TAG: os.urandom(16).hex(),  # unique per message, like kombu's uuid4
        }
        parts = [self._literals[0]]
        for slot, literal in zip(self._slots, self._literals[1:], strict=True):
            parts.append(values[slot])
            parts.append(literal)
        return level_list(queue, level), "".join(parts).encode()

    def publish(self, jobs: Sequence[Admitted]) -> bool:
        """Send one message per job; False (logged) when Redis could not take them."""
        if not jobs:
            return True
        # One LPUSH per list with every payload of that list, in admission order: LPUSH
        # pushes its values one after the other and workers pop from the other end, so the
        # first admitted is the first taken, as with one LPUSH per message.
        by_list: dict[str, list[bytes]] = {}
        for job in jobs:
            key, payload = self.message(job)
            by_list.setdefault(key, []).append(payload)
        pipe = self._redis.pipeline(transaction=False)
        for key, payloads in by_list.items():
            pipe.lpush(key, *payloads)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning(
                "publish of %d jobs failed (%s); the rescue publishes them again", len(jobs), exc
            )
            return False
        return True

    def close(self) -> None:
        self._redis.close()


def write_waiting(conn: Connection, waiting: Sequence[Waiting]) -> int:
    """Store positions and reasons of pending jobs; rows already up to date are skipped."""
    if not waiting:
        return 0
    result = conn.execute(
        text(
            """
            UPDATE jobs AS j
               SET queue_position = w.pos, waiting_code = w.code, waiting_reason = w.reason
              FROM unnest(CAST(:ids AS int[]), CAST(:pos AS int[]), CAST(:codes AS text[]),
                          CAST(:reasons AS text[])) AS w(id, pos, code, reason)
             WHERE j.id = w.id AND j.id = ANY(CAST(:ids AS int[])) AND j.status = 'pending'
               AND (j.queue_position IS DISTINCT FROM w.pos
                    OR j.waiting_code IS DISTINCT FROM w.code
                    OR j.waiting_reason IS DISTINCT FROM w.reason)
            """
        ),
        {
            "ids": [w.job_id for w in waiting],
            "pos": [w.position for w in waiting],
            "codes": [w.code for w in waiting],
            "reasons": [w.reason for w in waiting],
        },
    )
    return result.rowcount


def clear_positions_outside(conn: Connection, class_name: str, keep_ids: Sequence[int]) -> None:
    """Pending jobs pushed out of the head window lose their (now stale) position."""
    conn.execute(
        text(
            """
            UPDATE jobs SET queue_position = NULL
             WHERE status = 'pending' AND resource_category = :c
               AND queue_position IS NOT NULL AND NOT (id = ANY(:keep))
            """
        ),
        {"c": class_name, "keep": list(keep_ids)},
    )
