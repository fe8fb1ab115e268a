"""the scheduler's wake-up says what happened: new work, or a slot freed

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:10:00

The notification on ``mediaq_jobs`` carried no payload, so the scheduler had to treat every
finished job like new work and run a pass within a few milliseconds of it. Now the payload
is ``new`` for inserted rows and the status a row moved to otherwise (PostgreSQL still folds
equal notifications of one transaction into one). A finish (``completed``, ``failed``,
``cancelled``) only frees a slot, which the broker's look-ahead covers, so the scheduler
folds many of them into one pass (``scheduler.service``); new work still wakes it at once.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE OR REPLACE FUNCTION mediaq_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mediaq_jobs',
                              CASE WHEN TG_LEVEL = 'ROW' THEN NEW.status ELSE 'new' END);
            RETURN NULL;
        END $$;
    """)


def downgrade() -> None:
    op.execute("""
        CREATE OR REPLACE FUNCTION mediaq_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mediaq_jobs', '');
            RETURN NULL;
        END $$;
    """)
