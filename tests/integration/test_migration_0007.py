"""Migration 0007 (storyboards) on a populated database: up from 0006 and back."""

from __future__ import annotations

import psycopg
from alembic import command

from mediaq.db import dispose_engines
from mediaq.migrate import alembic_config
from tests.integration.migrationhelp import table_columns


def test_0007_adds_the_storyboard_and_keeps_every_item(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0006")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        for i in range(3):
            conn.execute(
                "INSERT INTO public_media (path, filename, category, view_count) "
                "VALUES (%s, %s, 'clips', %s)",
                (f"/p/{i}.mp4", f"{i}.mp4", i * 10),
            )
    command.upgrade(config, "0007")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT filename, view_count, storyboard_path FROM public_media ORDER BY id"
        ).fetchall()
        assert rows == [("0.mp4", 0, None), ("1.mp4", 10, None), ("2.mp4", 20, None)]
        conn.execute("UPDATE public_media SET storyboard_path = '/t/s/storyboard.vtt'")
    command.downgrade(config, "0006")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public_media").fetchone() == (3,)
        assert "storyboard_path" not in table_columns(conn, "public_media")
    command.upgrade(config, "0007")
