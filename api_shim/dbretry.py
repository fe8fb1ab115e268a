"""A request's database work tried once more when its pooled connection turned out dead.

After a database restart every idle pooled connection is dead, and the first request to
use one fails. SQLAlchemy then drops its whole pool (the async pool is purged by
``Resources``), so the same work on a fresh connection would succeed. It is tried again
only when that is safe: nothing was committed, because the failure came before any
``COMMIT`` was sent (a dead connection's transaction is gone with it). A failure at or
after a ``COMMIT`` may have written: the request answers 503 rather than write twice.

Synchronous handlers (SQLAlchemy sessions, run in the threadpool) are retried as a whole
by ``run_retrying``: the session factory reports each ``COMMIT`` about to be sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")

# per handler run: whether one of its sessions has sent (or is sending) a COMMIT
_COMMIT_SENT: ContextVar[list[bool] | None] = ContextVar("mediaq_commit_sent", default=None)


def retry_safe(connection_was_dead: bool, commit_sent: bool) -> bool:
    """Whether work that failed may run once more on a fresh connection."""
    return connection_was_dead and not commit_sent


def track_commits(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Have every session of ``sessions`` report a ``COMMIT`` before sending it."""

    def before_commit(_: Session) -> None:
        sent = _COMMIT_SENT.get()
        if sent is not None:
            sent[0] = True

    event.listen(sessions, "before_commit", before_commit)
    return sessions


def run_retrying(handler: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``handler(*args, **kwargs)``, once more if it failed on a dead pooled connection
    before any ``COMMIT`` was sent."""
    for attempt in (1, 2):
        sent = [False]
        token = _COMMIT_SENT.set(sent)
        try:
            return handler(*args, **kwargs)
        except DBAPIError as exc:
            if attempt == 2 or not retry_safe(exc.connection_invalidated, sent[0]):
                raise
            log.warning("database connection lost before commit; once more on a fresh one")
        finally:
            _COMMIT_SENT.reset(token)
    raise AssertionError("unreachable")
