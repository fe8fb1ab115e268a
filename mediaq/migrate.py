"""Bring a database to the newest schema with Alembic (``mediaq migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.settings import normalize_database_url

MIGRATIONS = Path(__file__).parent / "migrations"

# Two processes migrating at once (two `mediaq up`, compose replicas) serialize on this lock.
_MIGRATE_LOCK = 0x6D656469  # "medi"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointed at mediaq's migrations and the given database."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_database_url(database_url))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration not yet applied, holding an advisory lock while doing so."""
    with engine_for(database_url).connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATE_LOCK})
        try:
            command.upgrade(alembic_config(database_url), "head")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATE_LOCK})
            conn.commit()
