"""gallery indexes, exact gallery counts, view flush ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 02:10:00

- One partial index per gallery sort, with and without a category in front, covering only
  the unlocked rows the public gallery can show: every sort of ``GET /api/media/public`` is an
  index range read of ``limit + offset`` entries, never a sort of thousands of rows.
- ``public_media_counts``: the number of unlocked rows per (category, orientation), kept exact
  by triggers in the same transaction as the change, so the gallery's ``total`` is a read of a
  handful of rows instead of a ``count(*)`` over the category.
- ``view_flushes``: the tokens of view batches already applied, so a batch drained from Redis is
  applied exactly once even if the flusher dies between the database commit and the cleanup.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNLOCKED = sa.text("NOT is_locked")

GALLERY_INDEXES = {
    "idx_public_media_gallery_recent": ["created_at DESC", "id DESC"],
    "idx_public_media_gallery_popular": ["upvote_count DESC", "created_at DESC", "id DESC"],
    "idx_public_media_gallery_viewed": ["view_count DESC", "created_at DESC", "id DESC"],
    "idx_public_media_gallery_cat_recent": ["category", "created_at DESC", "id DESC"],
    "idx_public_media_gallery_cat_popular": [
        "category",
        "upvote_count DESC",
        "created_at DESC",
        "id DESC",
    ],
    "idx_public_media_gallery_cat_viewed": [
        "category",
        "view_count DESC",
        "created_at DESC",
        "id DESC",
    ],
}


def upgrade() -> None:
    for name, columns in GALLERY_INDEXES.items():
        op.create_index(
            name,
            "public_media",
            [sa.text(c) for c in columns],
            postgresql_where=UNLOCKED,
        )

    op.create_table(
        "public_media_counts",
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("orientation", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("category", "orientation", name=op.f("pk_public_media_counts")),
    )
    op.create_table(
        "view_flushes",
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_view_flushes")),
    )
    op.create_index("idx_view_flushes_applied", "view_flushes", ["applied_at"])

    # A NULL orientation is counted under '' (a primary key column cannot be NULL).
    # Deltas are applied in key order so two bulk writers lock count rows in the same order.
    op.execute("""
        CREATE FUNCTION mediaq_gallery_count_delta(delta_rows jsonb) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO public_media_counts AS c (category, orientation, n)
            SELECT d.category, d.orientation, sum(d.n)
              FROM jsonb_to_recordset(delta_rows) AS d(category text, orientation text, n bigint)
             GROUP BY d.category, d.orientation
            HAVING sum(d.n) <> 0
             ORDER BY d.category, d.orientation
            ON CONFLICT (category, orientation) DO UPDATE SET n = c.n + EXCLUDED.n
        $$;
    """)
    op.execute("""
        CREATE FUNCTION mediaq_gallery_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM mediaq_gallery_count_delta(coalesce(jsonb_agg(jsonb_build_object(
                'category', category, 'orientation', coalesce(orientation, ''), 'n', 1)), '[]'))
              FROM new_rows WHERE NOT is_locked;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION mediaq_gallery_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM mediaq_gallery_count_delta(coalesce(jsonb_agg(jsonb_build_object(
                'category', category, 'orientation', coalesce(orientation, ''), 'n', -1)), '[]'))
              FROM old_rows WHERE NOT is_locked;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION mediaq_gallery_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            deltas jsonb := '[]';
        BEGIN
            IF NOT OLD.is_locked THEN
                deltas := deltas || jsonb_build_object('category', OLD.category,
                    'orientation', coalesce(OLD.orientation, ''), 'n', -1);
            END IF;
            IF NOT NEW.is_locked THEN
                deltas := deltas || jsonb_build_object('category', NEW.category,
                    'orientation', coalesce(NEW.orientation, ''), 'n', 1);
            END IF;
            PERFORM mediaq_gallery_count_delta(deltas);
            RETURN NULL;
        END $$;
    """)
    # Statement-level with transition tables for bulk inserts and deletes (one upsert per key);
    # row-level for updates, and only when a counted column really changed, so the counter
    # updates of upvotes and view flushes never touch the counts table.
    op.execute("""
        CREATE TRIGGER public_media_count_insert AFTER INSERT ON public_media
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION mediaq_gallery_count_insert();
    """)
    op.execute("""
        CREATE TRIGGER public_media_count_delete AFTER DELETE ON public_media
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION mediaq_gallery_count_delete();
    """)
    op.execute("""
        CREATE TRIGGER public_media_count_update
        AFTER UPDATE OF category, orientation, is_locked ON public_media
        FOR EACH ROW WHEN (OLD.category IS DISTINCT FROM NEW.category
                           OR OLD.orientation IS DISTINCT FROM NEW.orientation
                           OR OLD.is_locked IS DISTINCT FROM NEW.is_locked)
        EXECUTE FUNCTION mediaq_gallery_count_update();
    """)
    op.execute("""
        INSERT INTO public_media_counts (category, orientation, n)
        SELECT category, coalesce(orientation, ''), count(*)
          FROM public_media WHERE NOT is_locked
         GROUP BY 1, 2
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS public_media_count_update ON public_media")
    op.execute("DROP TRIGGER IF EXISTS public_media_count_delete ON public_media")
    op.execute("DROP TRIGGER IF EXISTS public_media_count_insert ON public_media")
    op.execute("DROP FUNCTION IF EXISTS mediaq_gallery_count_update()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_gallery_count_delete()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_gallery_count_insert()")
    op.execute("DROP FUNCTION IF EXISTS mediaq_gallery_count_delta(jsonb)")
    op.drop_index("idx_view_flushes_applied", table_name="view_flushes")
    op.drop_table("view_flushes")
    op.drop_table("public_media_counts")
    for name in GALLERY_INDEXES:
        op.drop_index(name, table_name="public_media")
