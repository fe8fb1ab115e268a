"""a job counts its refused preflights, so each refusal waits longer before readmission

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 03:30:00

- ``jobs.refusals``: how many times a GPU worker's preflight gave the job back (the memory
  was not there, or the host could not check). ``mediaq.transitions.refuse`` sets
  ``not_before`` from it (``mediaq.backoff.refusal_delay_s``: 0.5 s doubling to 30 s); a
  retry by request sets it back to 0. Existing jobs start at 0.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs",
        sa.Column("refusals", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("jobs", "refusals")
