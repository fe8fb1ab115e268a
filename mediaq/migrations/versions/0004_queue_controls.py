"""queue controls: pauses, schedules, unique jobs, attempt history, finished-job counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:50:00

- ``queue_pauses``: one row per paused resource class (``type = ''``) or job type within a
  class, with who paused it and when. Admission skips the jobs it covers; they stay pending
  with the waiting code ``PAUSED``. A row survives every restart and failover.
- ``schedules`` and ``schedule_runs``: a schedule (a 5-field cron expression or a fixed
  interval) and one row per enqueued slot; the primary key (schedule, slot) is what makes
  two schedulers racing enqueue exactly one job per slot.
- ``jobs.unique_key`` with a partial unique index over the live statuses: while a job with a
  key is pending, queued or running, a second one with that key cannot exist.
- ``job_attempts``: one row per attempt (start, end, host, GPU, outcome, error tail), written
  by a trigger on the job's own transitions, so no code path that moves a job can forget it.
- ``job_counts``: finished jobs per (class, type, status), kept exact by triggers in the same
  transaction as the change, spread over a few shard rows per key so concurrent workers never
  queue on one counter row. Scrapes and lists read these instead of counting the history.
- ``idx_jobs_status_id`` (status, id) replaces ``idx_jobs_queue``: listing by status newest
  first, keyset pages by id; ``idx_jobs_finished`` serves retention's oldest-first batches.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
FINISHED = "('completed', 'failed', 'cancelled')"
COUNT_SHARDS = 8


def upgrade() -> None:
    op.create_table(
        "queue_pauses",
        sa.Column("resource_category", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("paused_by", sa.Text(), nullable=False),
        sa.Column("paused_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("resource_category", "type", name=op.f("pk_queue_pauses")),
    )
    op.create_table(
        "schedules",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cron", sa.Text(), nullable=True),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("job", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("last_slot", TZ, nullable=True),
        sa.CheckConstraint(
            "(cron IS NULL) <> (every_seconds IS NULL)", name=op.f("ck_schedules_one_rule")
        ),
        sa.CheckConstraint(
            "every_seconds IS NULL OR every_seconds >= 1", name=op.f("ck_schedules_every_pos")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("schedule_name", sa.Text(), nullable=False),
        sa.Column("slot", TZ, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_name"],
            ["schedules.name"],
            name=op.f("fk_schedule_runs_schedule_name_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_name", "slot", name=op.f("pk_schedule_runs")),
    )
    op.add_column("jobs", sa.Column("unique_key", sa.Text(), nullable=True))
    op.create_index(
        "idx_jobs_unique_live",
        "jobs",
        ["unique_key"],
        unique=True,
        postgresql_where=sa.text(
            "unique_key IS NOT NULL AND status IN ('pending', 'queued', 'running')"
        ),
    )
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("gpu", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_attempts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "attempt", name=op.f("pk_job_attempts")),
    )
    op.create_table(
        "job_counts",
        sa.Column("resource_category", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_category", "type", "status", "shard", name=op.f("pk_job_counts")
        ),
    )
    op.drop_index("idx_jobs_queue", table_name="jobs")
    op.create_index("idx_jobs_status_id", "jobs", ["status", "id"])
    op.create_index(
        "idx_jobs_finished",
        "jobs",
        ["status", "completed_at"],
        postgresql_where=sa.text(f"status IN {FINISHED}"),
    )

    op.execute(f"""
        CREATE FUNCTION mediaq_job_count_add(c text, t text, s text, delta bigint)
        RETURNS void LANGUAGE sql AS $$
            INSERT INTO job_counts AS k (resource_category, type, status, shard, n)
            VALUES (c, t, s, pg_backend_pid() % {COUNT_SHARDS}, delta)
            ON CONFLICT (resource_category, type, status, shard)
            DO UPDATE SET n = k.n + EXCLUDED.n
        $$;
    """)
    # Row-level, and only for rows whose status or attempt changed (the WHEN clause is
    # evaluated without calling the function): progress, log and heartbeat writes cost
    # nothing more.
    op.execute(f"""
        CREATE FUNCTION mediaq_job_transition() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'running' AND NEW.attempt IS DISTINCT FROM OLD.attempt THEN
                INSERT INTO job_attempts (job_id, attempt, started_at, host, gpu)
                VALUES (NEW.id, NEW.attempt, coalesce(NEW.started_at, now()),
                        NEW.assigned_host, NEW.assigned_gpu)
                ON CONFLICT (job_id, attempt) DO NOTHING;
            END IF;
            IF OLD.status = 'running' AND NEW.status <> 'running' THEN
                UPDATE job_attempts
                   SET ended_at = now(),
                       outcome = CASE
                           WHEN NEW.status = 'pending' AND NEW.failures > OLD.failures
                               THEN 'retrying'
                           WHEN NEW.status = 'pending' THEN 'returned'
                           ELSE NEW.status END,
                       error = CASE
                           WHEN NEW.failures > OLD.failures OR NEW.status = 'failed'
                               THEN right(NEW.last_error, 2000)
                           WHEN NEW.status = 'pending' THEN right(NEW.waiting_reason, 2000)
                           END
                 WHERE job_id = NEW.id AND attempt = OLD.attempt;
            END IF;
            IF OLD.status IN {FINISHED} AND NEW.status IS DISTINCT FROM OLD.status THEN
                PERFORM mediaq_job_count_add(OLD.resource_category, OLD.type, OLD.status, -1);
            END IF;
            IF NEW.status IN {FINISHED} AND NEW.status IS DISTINCT FROM OLD.status THEN
                PERFORM mediaq_job_count_add(NEW.resource_category, NEW.type, NEW.status, 1);
            END IF;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER jobs_transition AFTER UPDATE ON jobs FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.attempt IS DISTINCT FROM NEW.attempt)
        EXECUTE FUNCTION mediaq_job_transition();
    """)
    op.execute("""
        CREATE FUNCTION mediaq_job_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM mediaq_job_count_add(NEW.resource_category, NEW.type, NEW.status, 1);
            RETURN NULL;
        END $$;
    """)
    op.execute(f"""
        CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs FOR EACH ROW
        WHEN (NEW.status IN {FINISHED})
        EXECUTE FUNCTION mediaq_job_count_insert();
    """)
    # Deletes (retention, bulk delete) come in batches: one aggregate per statement.
    op.execute(f"""
        CREATE FUNCTION mediaq_job_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM mediaq_job_count_add(d.resource_category, d.type, d.status, -d.n)
               FROM (SELECT resource_category, type, status, count(*) AS n FROM old_rows
                      WHERE status IN {FINISHED} GROUP BY 1, 2, 3
                      ORDER BY 1, 2, 3) AS d;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION mediaq_job_count_delete();
    """)
    op.execute("""
        CREATE FUNCTION mediaq_job_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM job_counts;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON jobs
        FOR EACH STATEMENT EXECUTE FUNCTION mediaq_job_count_truncate();
    """)
    # Jobs that finished before this revision are counted once, here.
    op.execute(f"""
        INSERT INTO job_counts (resource_category, type, status, shard, n)
        SELECT resource_category, type, status, 0, count(*) FROM jobs
         WHERE status IN {FINISHED} GROUP BY 1, 2, 3
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS jobs_count_truncate ON jobs")
    op.execute("DROP TRIGGER IF EXISTS jobs_count_delete ON jobs")
    op.execute("DROP TRIGGER IF EXISTS jobs_count_insert ON jobs")
    op.execute("DROP TRIGGER IF EXISTS jobs_transition ON jobs")
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_count_truncate()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_count_delete()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_count_insert()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_transition()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_count_add(text, text, text, bigint)")
    op.drop_index("idx_jobs_finished", table_name="jobs")
    op.drop_index("idx_jobs_status_id", table_name="jobs")
    op.create_index("idx_jobs_queue", "jobs", ["status", "priority", "created_at"])
    op.drop_table("job_counts")
    op.drop_table("job_attempts")
    op.drop_index("idx_jobs_unique_live", table_name="jobs")
    op.drop_column("jobs", "unique_key")
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
    op.drop_table("queue_pauses")
