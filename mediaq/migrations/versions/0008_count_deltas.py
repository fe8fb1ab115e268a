"""finished-job counts as append-only deltas, folded in the background

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:40:00

The triggers of 0004 added every change to one ``job_counts`` row with an upsert. One
statement that finishes or cancels many jobs of one kind (a bulk cancel, a large insert of
finished rows) then updates the same row once per job inside one transaction, and each
update walks the chain of that row's earlier versions: quadratic in the batch size.

Now each change appends a row to ``job_count_deltas`` (no key, no conflict, no chain), and
``mediaq_fold_job_counts()`` moves the deltas into ``job_counts`` in one statement (the
scheduler's periodic work runs it every few seconds). Readers sum both tables in one
snapshot, so a count is exact whether or not the fold has run.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COUNT_SHARDS = 8


def upgrade() -> None:
    op.execute("""
        CREATE TABLE job_count_deltas (
            resource_category text NOT NULL,
            type text NOT NULL,
            status text NOT NULL,
            n bigint NOT NULL
        )
    """)
    op.execute("""
        CREATE OR REPLACE FUNCTION mediaq_job_count_add(c text, t text, s text, delta bigint)
        RETURNS void LANGUAGE sql AS $$
            INSERT INTO job_count_deltas (resource_category, type, status, n)
            VALUES (c, t, s, delta)
        $$;
    """)
    # The statement-level delete trigger (0004) adds one delta per key and statement.
    op.execute("""
        CREATE FUNCTION mediaq_fold_job_counts() RETURNS bigint LANGUAGE sql AS $$
            WITH moved AS (DELETE FROM job_count_deltas RETURNING *),
            summed AS (SELECT resource_category, type, status, sum(n) AS n FROM moved
                        GROUP BY 1, 2, 3),
            applied AS (
                INSERT INTO job_counts AS k (resource_category, type, status, shard, n)
                SELECT resource_category, type, status, 0, n FROM summed
                 ORDER BY 1, 2, 3
                ON CONFLICT (resource_category, type, status, shard)
                DO UPDATE SET n = k.n + EXCLUDED.n
                RETURNING 1)
            SELECT count(*) FROM moved
        $$;
    """)
    # What readers read: the folded counts plus the deltas not folded yet, per key.
    op.execute("""
        CREATE VIEW job_count_totals AS
        SELECT resource_category, type, status, sum(n) AS n FROM (
            SELECT resource_category, type, status, n FROM job_counts
            UNION ALL
            SELECT resource_category, type, status, n FROM job_count_deltas) AS all_counts
         GROUP BY 1, 2, 3
    """)
    op.execute("""
        CREATE OR REPLACE FUNCTION mediaq_job_count_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM job_counts;
            DELETE FROM job_count_deltas;
            RETURN NULL;
        END $$;
    """)


def downgrade() -> None:
    op.execute("SELECT mediaq_fold_job_counts()")
    op.execute("DROP VIEW IF EXISTS job_count_totals")
    op.execute("DROP FUNCTION IF EXISTS mediaq_fold_job_counts()")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION mediaq_job_count_add(c text, t text, s text, delta bigint)
        RETURNS void LANGUAGE sql AS $$
            INSERT INTO job_counts AS k (resource_category, type, status, shard, n)
            VALUES (c, t, s, pg_backend_pid() % {COUNT_SHARDS}, delta)
            ON CONFLICT (resource_category, type, status, shard)
            DO UPDATE SET n = k.n + EXCLUDED.n
        $$;
    """)
    op.execute("""
        CREATE OR REPLACE FUNCTION mediaq_job_count_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM job_counts;
            RETURN NULL;
        END $$;
    """)
    op.execute("DROP TABLE IF EXISTS job_count_deltas")
