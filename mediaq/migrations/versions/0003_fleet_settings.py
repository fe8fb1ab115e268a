"""fleet settings: the library id and the fleet-wide CPU-only switch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:50:00

- ``fleet_settings``: small named values the whole fleet shares through the database: the
  id of the media library every worker host and the API must mount (``library_id``; the
  same id is kept in a file at the library root), and whether GPU job types run on CPU
  slots by default (``cpu_only``, written by a GPU-less ``mediaq up``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_settings",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_fleet_settings")),
    )


def downgrade() -> None:
    op.drop_table("fleet_settings")
