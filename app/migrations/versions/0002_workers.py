"""Runs trained by workers anywhere: attempts, heartbeats, who trains them, cancel requests.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
        runs.add_column(sa.Column("heartbeat_at", sa.Float))
        runs.add_column(sa.Column("worker", sa.Text))
        runs.add_column(
            sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index("runs_active", "runs", ["status", "created_at"])
    # A run's attempts so far are its running events.
    op.execute(
        "UPDATE runs SET attempt = (SELECT COUNT(*) FROM events "
        "WHERE events.run_id = runs.id AND events.kind = 'running')"
    )
