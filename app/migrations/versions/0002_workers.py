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
    # NOTE: plain ADD COLUMNs (constant defaults), so SQLite keeps its table as it is.
    op.add_column("runs", sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("heartbeat_at", sa.Float))
    op.add_column("runs", sa.Column("worker", sa.Text))
    op.add_column(
        "runs", sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false())
    )
    # The number of the last batch the current attempt's worker wrote (a retried write that
    # had in fact been committed is then recognised, and not written twice).
    op.add_column("runs", sa.Column("written", sa.Integer, nullable=False, server_default="0"))
    op.create_index("runs_active", "runs", ["status", "created_at"])
    # A run's attempts so far are its running events.
    op.execute(
        "UPDATE runs SET attempt = (SELECT COUNT(*) FROM events "
        "WHERE events.run_id = runs.id AND events.kind = 'running')"
    )
