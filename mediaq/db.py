"""Engines and sessions: SQLAlchemy 2 over psycopg 3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from mediaq.settings import normalize_database_url

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()

# libpq options of every connection: a database that is away or cut off by the network is
# noticed within seconds, not after the kernel's TCP timeouts (minutes): a connect gives up
# after 5 s; an idle connection is probed after 5 s of silence; unacknowledged data or
# unanswered probes end the connection after about 10 s.
CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def engine_for(database_url: str) -> Engine:
    """One pooled engine per URL and process, created lazily (so never before a fork)."""
    url = normalize_database_url(database_url)
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            # No pre-ping: it costs a round trip per transaction on the hot path. A connection
            # that died (the database restarted) is recognised as a disconnect on first use
            # and SQLAlchemy then drops the whole pool, so exactly one transaction fails: a
            # job write is retried by its caller, an API request is run once more when no
            # COMMIT was sent yet (api_shim.dbretry), else answers 503.
            engine = create_engine(
                url,
                pool_size=5,
                max_overflow=10,
                pool_recycle=1800,
                connect_args=dict(CONNECT_ARGS),
            )
            _ENGINES[url] = engine
        return engine


def session_factory(database_url: str) -> sessionmaker[Session]:
    """A session factory bound to the engine of ``database_url``."""
    return sessionmaker(engine_for(database_url), expire_on_commit=False)


@contextmanager
def transaction(database_url: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with session_factory(database_url)() as session, session.begin():
        yield session


def dispose_engines(close: bool = True) -> None:
    """Drop every pooled connection of this process.

    After a fork pass ``close=False``: the parent's connections are forgotten, not closed,
    so the parent can keep using them.
    """
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose(close=close)
        _ENGINES.clear()
