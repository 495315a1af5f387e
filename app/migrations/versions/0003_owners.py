"""Runs belong to who started them; each run's stored size; runs removed to free space.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOTE: plain ADD COLUMNs again. Runs made before this have no owner (NULL): only the
    # operator's admin token changes them.
    op.add_column("runs", sa.Column("owner_hash", sa.Text))  # SHA-256 of the owner token
    op.add_column("runs", sa.Column("client", sa.Text))  # whose quota it counts against
    op.add_column(
        "runs", sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("runs", sa.Column("removed", sa.Text))  # why its log and weights are gone
    op.create_index("runs_client", "runs", ["client", "status"])
    op.create_index("runs_owner", "runs", ["owner_hash"])
    # What the runs already recorded weighs what their events and weights weigh.
    op.execute(
        "UPDATE runs SET stored_bytes = "
        "COALESCE((SELECT SUM(LENGTH(data)) FROM events WHERE events.run_id = runs.id), 0) + "
        "COALESCE((SELECT SUM(LENGTH(npz)) FROM weights WHERE weights.run_id = runs.id), 0)"
    )
