"""The schema of the first versions (runs, their event log, their weights).

A database made before migrations existed already has these tables, perhaps without
the columns added later (``warning``, ``name``): they are added, and nothing is lost.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "runs" not in tables:
        op.create_table(
            "runs",
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("config", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("started_at", sa.Float),
            sa.Column("finished_at", sa.Float),
            sa.Column("iterations", sa.Integer),
            sa.Column("train_acc", sa.Float),
            sa.Column("test_acc", sa.Float),
            sa.Column("elapsed_s", sa.Float),
            sa.Column("message", sa.Text),
            sa.Column("warning", sa.Text),
            sa.Column("name", sa.Text),
            sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        )
    else:
        columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
        for name in ("warning", "name"):  # databases from before run warnings and run names
            if name not in columns:
                op.add_column("runs", sa.Column(name, sa.Text))
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("runs")}
    if "runs_created" not in indexes:
        op.create_index("runs_created", "runs", [sa.text("created_at DESC")])
    if "events" not in tables:
        op.create_table(
            "events",
            sa.Column("run_id", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sqlite_with_rowid=False,
        )
    if "weights" not in tables:
        op.create_table(
            "weights",
            sa.Column("run_id", sa.Text, primary_key=True),
            sa.Column("npz", sa.LargeBinary, nullable=False),
        )
