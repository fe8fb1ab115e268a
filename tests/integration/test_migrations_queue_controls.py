"""Revision 0004 on a populated database: upgrade from 0003 keeps every job and counts the
finished ones; the new triggers keep attempts and counts; downgrade goes back cleanly."""

from __future__ import annotations

import importlib

import psycopg
import pytest
from alembic import command

from mediaq.db import dispose_engines
from mediaq.migrate import alembic_config
from tests.integration.migrationhelp import table_columns


def _counts(conn: psycopg.Connection) -> dict[tuple[str, str, str], int]:
    totals = conn.execute("SELECT to_regclass('job_count_totals')").fetchone()
    table = "job_count_totals" if totals and totals[0] else "job_counts"
    rows = conn.execute(
        f"SELECT resource_category, type, status, sum(n) FROM {table} GROUP BY 1, 2, 3"  # type: ignore[arg-type]
    ).fetchall()
    return {(c, t, s): int(n) for c, t, s, n in rows if n}


def test_0004_upgrades_a_populated_database_and_back(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0003")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (type, status, resource_category) "
            "SELECT 'noop', s, 'cpu' FROM unnest(ARRAY['pending','completed','completed',"
            "'failed','cancelled','running']) AS s"
        )
    command.upgrade(config, "0004")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (6,)
        assert _counts(conn) == {
            ("cpu", "noop", "completed"): 2,
            ("cpu", "noop", "failed"): 1,
            ("cpu", "noop", "cancelled"): 1,
        }
        # a claim opens an attempt, a failure closes it with its error; counts follow
        job_id = conn.execute("SELECT id FROM jobs WHERE status = 'pending'").fetchone()[0]
        conn.execute(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, "
            "assigned_host = 'h1' WHERE id = %s",
            (job_id,),
        )
        conn.execute(
            "UPDATE jobs SET status = 'failed', failures = 1, last_error = 'boom' WHERE id = %s",
            (job_id,),
        )
        row = conn.execute(
            "SELECT attempt, host, outcome, error, ended_at IS NOT NULL FROM job_attempts "
            "WHERE job_id = %s",
            (job_id,),
        ).fetchall()
        assert row == [(1, "h1", "failed", "boom", True)]
        assert _counts(conn)[("cpu", "noop", "failed")] == 2
        conn.execute("DELETE FROM jobs WHERE status = 'completed'")
        assert ("cpu", "noop", "completed") not in _counts(conn)
        # the partial unique index: one live job per key, a finished one does not count
        conn.execute("UPDATE jobs SET unique_key = 'k' WHERE id = %s", (job_id,))
        conn.execute("INSERT INTO jobs (type, unique_key) VALUES ('noop', 'k')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO jobs (type, unique_key) VALUES ('noop', 'k')")
    command.downgrade(config, "0003")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (5,)
        assert conn.execute("SELECT to_regclass('job_counts')").fetchone() == (None,)
    command.upgrade(config, "head")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert _counts(conn)[("cpu", "noop", "failed")] == 2


def _first_attempt_started(conn: psycopg.Connection, waited_s: int) -> int:
    """A job queued ``waited_s`` ago whose first attempt starts now; its id."""
    row = conn.execute(
        "INSERT INTO jobs (type, status, created_at) VALUES "
        "('noop', 'queued', now() - make_interval(secs => %s)) RETURNING id",
        (waited_s,),
    ).fetchone()
    assert row is not None
    conn.execute(
        "UPDATE jobs SET status = 'running', attempt = 1, started_at = now() WHERE id = %s",
        (row[0],),
    )
    return int(row[0])


def test_0006_counts_waits_of_first_attempts_and_back(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0005")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (type, status, resource_category, created_at, started_at) "
            "VALUES ('noop', 'completed', 'cpu', now() - interval '3 s', now())"
        )
    command.upgrade(config, "0006")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        rows = conn.execute("SELECT le, n FROM job_wait_counts").fetchall()
        assert rows == [(5.0, 1)]  # 3 s falls in the le=5 bucket
        job_id = _first_attempt_started(conn, waited_s=20)
        # a second attempt is not a second wait
        conn.execute("UPDATE jobs SET status = 'queued' WHERE id = %s", (job_id,))
        conn.execute(
            "UPDATE jobs SET status = 'running', attempt = 2, started_at = now() WHERE id = %s",
            (job_id,),
        )
        rows = conn.execute(
            "SELECT le, sum(n) FROM job_wait_counts GROUP BY le ORDER BY le"
        ).fetchall()
        assert rows == [(5.0, 1), (30.0, 1)]
        attempts = conn.execute(
            "SELECT attempt FROM job_attempts WHERE job_id = %s ORDER BY 1", (job_id,)
        ).fetchall()
        assert attempts == [(1,), (2,)]
    command.downgrade(config, "0005")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('job_wait_counts')").fetchone() == (None,)
    command.upgrade(config, "head")


def test_wait_bounds_of_the_migration_are_the_metric_buckets() -> None:
    from mediaq.metrics import WAIT_BUCKETS

    module = importlib.import_module("mediaq.migrations.versions.0006_wait_counts")
    bounds = module.BOUNDS.removeprefix("ARRAY[").removesuffix("]::float8[]")
    assert tuple(float(b) for b in bounds.split(",")) == WAIT_BUCKETS


def test_0008_counts_a_big_statement_in_linear_time_and_folds(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0007")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (type, status, completed_at) "
            "SELECT 'noop', 'completed', now() FROM generate_series(1, 5)"
        )
    command.upgrade(config, "0008")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        # one statement finishing 50,000 jobs of one kind: quadratic with an upsert per row
        conn.execute(
            "INSERT INTO jobs (type, status, completed_at) "
            "SELECT 'noop', 'cancelled', now() FROM generate_series(1, 50000)"
        )
        assert _counts(conn) == {
            ("cpu", "noop", "completed"): 5,
            ("cpu", "noop", "cancelled"): 50000,
        }
        moved = conn.execute("SELECT mediaq_fold_job_counts()").fetchone()
        assert moved == (50000,)
        assert conn.execute("SELECT count(*) FROM job_count_deltas").fetchone() == (0,)
        assert _counts(conn) == {
            ("cpu", "noop", "completed"): 5,
            ("cpu", "noop", "cancelled"): 50000,
        }
        conn.execute("DELETE FROM jobs WHERE status = 'cancelled'")
        assert _counts(conn) == {("cpu", "noop", "completed"): 5}
    command.downgrade(config, "0007")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert _counts(conn) == {("cpu", "noop", "completed"): 5}
        assert conn.execute("SELECT to_regclass('job_count_deltas')").fetchone() == (None,)
    command.upgrade(config, "head")


def test_0009_notifies_what_happened_and_back(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0008")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("INSERT INTO jobs (type, status) VALUES ('noop', 'pending')")
    command.upgrade(config, "0009")

    def heard(statements: list[str]) -> list[str]:
        with (
            psycopg.connect(empty_db, autocommit=True) as listener,
            psycopg.connect(empty_db, autocommit=True) as writer,
        ):
            listener.execute("LISTEN mediaq_jobs")
            for sql in statements:
                writer.execute(sql)  # type: ignore[arg-type]
            # A mark of our own, delivered after the rest (one session's notifications come in
            # commit order): everything is heard once it is, however slow the machine.
            writer.execute("NOTIFY mediaq_jobs, 'end of test'")
            payloads = []
            for note in listener.notifies(timeout=30):
                if note.payload == "end of test":
                    break
                payloads.append(note.payload)
            return payloads

    assert heard(
        [
            "INSERT INTO jobs (type) SELECT 'noop' FROM generate_series(1, 3)",
            "UPDATE jobs SET status = 'completed' WHERE status = 'pending'",
            "UPDATE jobs SET status = 'pending' WHERE status = 'completed'",
        ]
    ) == ["new", "completed", "pending"]  # one per statement: equal ones are folded
    assert conn_count(empty_db) == 4
    command.downgrade(config, "0008")
    assert heard(["UPDATE jobs SET status = 'cancelled'"]) == [""]
    assert conn_count(empty_db) == 4
    command.upgrade(config, "head")


def conn_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM jobs").fetchone()
    assert row is not None
    return int(row[0])


def _languages(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT p.proname, l.lanname FROM pg_proc AS p JOIN pg_language AS l "
        "ON l.oid = p.prolang WHERE p.proname IN ('mediaq_job_wait_add', 'mediaq_job_count_add')"
    ).fetchall()
    return dict(rows)


def test_0010_counts_and_waits_the_same_in_plpgsql_and_back(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0009")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (type, status, completed_at) VALUES ('noop', 'completed', now())"
        )
    command.upgrade(config, "0010")

    def run_one(conn: psycopg.Connection, waited_s: int) -> None:
        job_id = _first_attempt_started(conn, waited_s)
        conn.execute("UPDATE jobs SET status = 'completed' WHERE id = %s", (job_id,))

    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert _languages(conn) == {
            "mediaq_job_wait_add": "plpgsql",
            "mediaq_job_count_add": "plpgsql",
        }
        for _ in range(7):  # past the point where PL/pgSQL switches to a generic plan
            run_one(conn, 3)
        assert _counts(conn) == {("cpu", "noop", "completed"): 8}
        waits = conn.execute("SELECT le, sum(n) FROM job_wait_counts GROUP BY le").fetchall()
        assert waits == [(5.0, 7)]
    command.downgrade(config, "0009")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert _languages(conn) == {"mediaq_job_wait_add": "sql", "mediaq_job_count_add": "sql"}
        run_one(conn, 20)
        assert _counts(conn) == {("cpu", "noop", "completed"): 9}
        waits = conn.execute(
            "SELECT le, sum(n) FROM job_wait_counts GROUP BY le ORDER BY le"
        ).fetchall()
        assert waits == [(5.0, 7), (30.0, 1)]
    command.upgrade(config, "head")


def test_0011_counts_refusals_from_zero_on_every_job_and_back(empty_db: str) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "0010")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (type, status, attempt, failures)"
            " SELECT 'noop', s, 2, 1 FROM unnest(ARRAY['pending', 'running', 'completed']) s"
        )
    command.upgrade(config, "0011")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status, attempt, failures, refusals FROM jobs ORDER BY id"
        ).fetchall()
        assert rows == [("pending", 2, 1, 0), ("running", 2, 1, 0), ("completed", 2, 1, 0)]
    command.downgrade(config, "0010")
    dispose_engines()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (3,)
        assert "refusals" not in table_columns(conn, "jobs")
    command.upgrade(config, "head")
