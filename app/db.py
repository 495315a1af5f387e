"""The database behind the store: one SQLAlchemy engine for SQLite or PostgreSQL, and migrations.

The embedded default is a SQLite file in the data directory; several servers and
workers share a PostgreSQL database instead (``BACKPROP_LAB_DATABASE_URL``). The
schema is kept by Alembic (``app/migrations``): every server and worker brings the
database to the newest revision when it starts, so a file made by an older version
upgrades in place.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

log = logging.getLogger("backprop_lab.db")

MIGRATIONS = Path(__file__).with_name("migrations")
#: Every server and worker takes this PostgreSQL advisory lock while it migrates.
_MIGRATION_LOCK = 0x62_61_63_6B  # "back"
#: Seconds to wait for a database connection before a request is answered 503.
CONNECT_TIMEOUT = 3


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message says where it was looked for."""


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file."""
    return f"sqlite:///{path}"


def normalized_url(url: str) -> URL:
    """A database URL with its driver: ``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"BACKPROP_LAB_DATABASE_URL must be sqlite:///<file> or postgresql://…, "
            f"not {parsed.get_backend_name()}://"
        )
    return parsed


def describe(url: str | URL) -> str:
    """Where a database is, for messages (its password hidden)."""
    parsed = normalized_url(str(url)) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def _sqlite_pragmas(dbapi: Any, _record: Any) -> None:
    cur = dbapi.cursor()
    # NOTE: takes effect only in a new file (before its first table): pages freed by deleted
    # runs then go back to the file system at PRAGMA incremental_vacuum; older files reuse them.
    cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for the URL: SQLite in WAL mode, or PostgreSQL with a short connect timeout."""
    parsed = normalized_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_pre_ping=True,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        parsed,
        connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": "backprop-lab"},
        pool_pre_ping=True,
        # NOTE: at most 15 connections per process, so several servers (each perhaps with
        # --workers N) and workers stay inside PostgreSQL's default max_connections of 100.
        pool_size=5,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT * 2,
    )


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (a database from any earlier version included)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        # NOTE: servers and workers starting together must not migrate at the same time, and
        # a migration cut short must leave nothing half done: one locked transaction.
        if is_postgres(engine):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def head_revision() -> str:
    """The newest schema revision this version knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def unavailable_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean the database cannot be reached (answered 503, not 500)."""
    return (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def is_disconnect(error: BaseException) -> bool:
    """Whether an exception from the engine means the database is unreachable."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, unavailable_errors())
