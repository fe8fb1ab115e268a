"""enqueue-to-start waits kept as counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:05:00

- ``job_wait_counts``: the ``mediaq_job_wait_seconds`` histogram as cumulative counters per
  (class, bucket bound), written by the transition trigger when a job's first attempt
  starts, in shard rows like ``job_counts``. A scrape reads a few dozen rows instead of
  every job that ever started, and the histogram never goes down when old jobs are pruned.
- ``mediaq_job_transition`` (0004) is replaced by the same function plus that count.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Bucket bounds in seconds (``mediaq.metrics.WAIT_BUCKETS``); +Inf is 'Infinity'.
BOUNDS = "ARRAY[0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400]::float8[]"
FINISHED = "('completed', 'failed', 'cancelled')"
COUNT_SHARDS = 8

_BODY = """
        BEGIN
            IF NEW.status = 'running' AND NEW.attempt IS DISTINCT FROM OLD.attempt THEN
                INSERT INTO job_attempts (job_id, attempt, started_at, host, gpu)
                VALUES (NEW.id, NEW.attempt, coalesce(NEW.started_at, now()),
                        NEW.assigned_host, NEW.assigned_gpu)
                ON CONFLICT (job_id, attempt) DO NOTHING;
                {wait}
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
            IF OLD.status IN {finished} AND NEW.status IS DISTINCT FROM OLD.status THEN
                PERFORM mediaq_job_count_add(OLD.resource_category, OLD.type, OLD.status, -1);
            END IF;
            IF NEW.status IN {finished} AND NEW.status IS DISTINCT FROM OLD.status THEN
                PERFORM mediaq_job_count_add(NEW.resource_category, NEW.type, NEW.status, 1);
            END IF;
            RETURN NULL;
        END"""

_WAIT = """
                IF NEW.attempt = 1 THEN
                    PERFORM mediaq_job_wait_add(NEW.resource_category, greatest(0,
                        date_part('epoch', coalesce(NEW.started_at, now()) - NEW.created_at)));
                END IF;"""


def _transition(wait: str) -> str:
    body = _BODY.format(wait=wait, finished=FINISHED)
    return (
        "CREATE OR REPLACE FUNCTION mediaq_job_transition() RETURNS trigger "
        f"LANGUAGE plpgsql AS $${body} $$;"
    )


def upgrade() -> None:
    op.execute("""
        CREATE TABLE job_wait_counts (
            resource_category text NOT NULL,
            le float8 NOT NULL,
            shard smallint NOT NULL,
            n bigint NOT NULL DEFAULT 0,
            sum_s float8 NOT NULL DEFAULT 0,
            CONSTRAINT pk_job_wait_counts PRIMARY KEY (resource_category, le, shard)
        )
    """)
    op.execute(f"""
        CREATE FUNCTION mediaq_job_wait_add(c text, w float8) RETURNS void LANGUAGE sql AS $$
            INSERT INTO job_wait_counts AS k (resource_category, le, shard, n, sum_s)
            VALUES (c, (SELECT coalesce(min(b), 'Infinity') FROM unnest({BOUNDS}) AS b
                         WHERE b >= w),
                    pg_backend_pid() % {COUNT_SHARDS}, 1, w)
            ON CONFLICT (resource_category, le, shard)
            DO UPDATE SET n = k.n + 1, sum_s = k.sum_s + EXCLUDED.sum_s
        $$;
    """)
    op.execute(_transition(_WAIT))
    # Jobs that started before this revision are counted once, here.
    op.execute(f"""
        INSERT INTO job_wait_counts (resource_category, le, shard, n, sum_s)
        SELECT c, le, 0, count(*), sum(w) FROM (
            SELECT resource_category AS c, w,
                   (SELECT coalesce(min(b), 'Infinity') FROM unnest({BOUNDS}) AS b
                     WHERE b >= w) AS le
              FROM (SELECT resource_category,
                           greatest(0, date_part('epoch', started_at - created_at)) AS w
                      FROM jobs WHERE started_at IS NOT NULL) AS s) AS t
         GROUP BY c, le
    """)


def downgrade() -> None:
    op.execute(_transition(""))
    op.execute("DROP FUNCTION IF EXISTS mediaq_job_wait_add(text, float8)")
    op.execute("DROP TABLE IF EXISTS job_wait_counts")
