"""seek-preview storyboards of gallery items

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:30:00

- ``public_media.storyboard_path``: the WebVTT thumbnails track of the item's seek
  previews (its sprite sheets lie beside it), written by the ``storyboard`` job.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("public_media", sa.Column("storyboard_path", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("public_media", "storyboard_path")
