"""Alembic's entry point: migrate the connection the store hands over (see app.db.upgrade)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through app.db.upgrade (the server and the worker do it when they start)."
    )
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
