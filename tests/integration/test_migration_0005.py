"""Migration 0005 (comment moderation) on a populated database: up from 0004 and back."""

from __future__ import annotations

import psycopg
from alembic import command

from mediaq.db import dispose_engines
from mediaq.migrate import alembic_config
from tests.integration.migrationhelp import table_columns


def test_0005_keeps_comments_and_counts_and_downgrades(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0004")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        media = conn.execute(
            "INSERT INTO public_media (path, filename, category, comment_count) "
            "VALUES ('/p/a.mp4', 'a.mp4', 'clips', 3) RETURNING id"
        ).fetchone()
        assert media is not None
        for body in ("one", "two", "three"):
            conn.execute(
                "INSERT INTO comments (media_id, session_id, author_name, body) "
                "VALUES (%s, 's', 'Anonymous', %s)",
                (media[0], body),
            )
    command.upgrade(config, "0005")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        rows = conn.execute("SELECT body, hidden_at FROM comments ORDER BY id").fetchall()
        assert rows == [("one", None), ("two", None), ("three", None)]
        # hide one the way the API does: the counter follows in the same transaction
        with conn.transaction():
            conn.execute("UPDATE comments SET hidden_at = now() WHERE body = 'two'")
            conn.execute("UPDATE public_media SET comment_count = comment_count - 1")
    command.downgrade(config, "0004")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        bodies = [r[0] for r in conn.execute("SELECT body FROM comments ORDER BY id")]
        assert bodies == ["one", "three"]  # the hidden comment does not come back as visible
        assert conn.execute("SELECT comment_count FROM public_media").fetchone() == (2,)
        assert "hidden_at" not in table_columns(conn, "comments")
    command.upgrade(config, "0005")  # and up again
