"""Each run's queue (short or long); the lab's shared settings, so servers cannot disagree.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOTE: NULL is the short queue, where every run made before this went.
    op.add_column("runs", sa.Column("queue", sa.Text))
    op.create_table(
        "lab_settings",
        sa.Column("name", sa.Text, primary_key=True),  # the setting, e.g. max_active_runs
        sa.Column("value", sa.Text, nullable=False),  # JSON
        sa.Column("set_by", sa.Text, nullable=False),  # the host that first set it
        sa.Column("set_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lab_settings")
    op.drop_column("runs", "queue")
