"""The lab's shared settings, kept in its database so servers and workers cannot disagree.

With several servers (PostgreSQL), the first server or worker to start records the
lab-wide settings it has (``max_active_runs``, the queues, the run limits, …); one
that starts later with a different value refuses to start, naming both values
(rather than each server counting against its own cap). To change one on purpose:
``python -m app.labsettings --adopt`` with the new environment records its values,
then restart every server and worker with them. ``python -m app.labsettings`` shows
what is recorded.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from app.training.records import metadata

log = logging.getLogger("backprop_lab.labsettings")

lab_settings = sa.Table(
    "lab_settings",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("set_by", sa.Text, nullable=False),
    sa.Column("set_at", sa.Float, nullable=False),
)

#: What every server must agree on: caps and limits counted lab-wide, the queues, retries.
SERVER = (
    "queue",
    "long_run_cost",
    "max_active_runs",
    "max_active_runs_per_client",
    "max_stored_bytes",
    "max_run_seconds",
    "run_attempts",
)
#: What a worker must agree on with the servers (it reads no caps).
WORKER = ("queue", "max_run_seconds", "run_attempts")


class Disagree(RuntimeError):
    """This process's settings differ from the lab's recorded ones."""


def env_name(name: str) -> str:
    """The environment variable of a setting."""
    return f"BACKPROP_LAB_{name.upper()}"


def recorded(engine: Engine) -> dict[str, tuple[Any, str]]:
    """The lab's recorded settings: name → (value, who set it)."""
    with engine.connect() as db:
        rows = db.execute(sa.select(lab_settings)).all()
    return {r.name: (json.loads(r.value), r.set_by) for r in rows}


def agree(engine: Engine, settings: Any, names: tuple[str, ...]) -> None:
    """Record the settings the lab has not yet; raise ``Disagree`` if any recorded differs."""
    here = {n: getattr(settings, n) for n in names}
    with engine.begin() as db:
        known = {r.name for r in db.execute(sa.select(lab_settings.c.name))}
        for name in names:
            if name not in known:
                row = {"name": name, "value": json.dumps(here[name]), **_stamp()}
                if engine.dialect.name == "postgresql":  # two starting at once: the first wins
                    db.execute(postgresql.insert(lab_settings).values(row).on_conflict_do_nothing())
                else:
                    db.execute(lab_settings.insert().values(row))
    lab = recorded(engine)
    wrong = [
        f"{env_name(n)} is {here[n]!r} here but {lab[n][0]!r} for the lab (set by {lab[n][1]})"
        for n in names
        if n in lab and lab[n][0] != here[n]
    ]
    if wrong:
        error = Disagree(
            "This process does not start: its settings differ from the lab's, which every "
            "server and worker shares: "
            + "; ".join(wrong)
            + ". Give it the lab's values, or change the lab's with "
            "'python -m app.labsettings --adopt' run with the new values."
        )
        log.error("%s", error)
        raise error


def adopt(engine: Engine, settings: Any) -> None:
    """Make this environment's values the lab's (every lab-wide setting)."""
    with engine.begin() as db:
        db.execute(lab_settings.delete())
        for name in dict.fromkeys(SERVER + WORKER):
            db.execute(
                lab_settings.insert().values(
                    name=name, value=json.dumps(getattr(settings, name)), **_stamp()
                )
            )


def _stamp() -> dict[str, Any]:
    return {"set_by": socket.gethostname(), "set_at": time.time()}


def main(argv: list[str] | None = None) -> None:
    """Show the lab's recorded settings, or (``--adopt``) record this environment's."""
    from app.settings import get_settings
    from app.training.store import RunStore

    args = sys.argv[1:] if argv is None else argv
    settings = get_settings()
    store = RunStore(settings.database())
    try:
        if "--adopt" in args:
            adopt(store.engine, settings)
        for name, (value, by) in sorted(recorded(store.engine).items()):
            print(f"{env_name(name)}={json.dumps(value)}  # set by {by}")
    finally:
        store.close()


if __name__ == "__main__":
    main()
