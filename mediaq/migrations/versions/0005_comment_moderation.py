"""comment moderation: hidden comments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:00:00

- ``comments.hidden_at``: set when an admin hides a comment (NULL = visible). A hidden
  comment leaves the public list and ``public_media.comment_count``, so the counter keeps
  counting exactly the rows the public sees; unhiding puts it back.
- Comments already hidden when downgrading are deleted first, so the counters of the older
  schema (every row counts) stay equal to the rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comments", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM comments WHERE hidden_at IS NOT NULL")
    op.drop_column("comments", "hidden_at")
