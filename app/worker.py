"""``python -m app.worker``: a Celery worker that trains runs (executor=celery).

A thin wrapper around ``celery worker``: the broker, the database, the queue
and the concurrency come from the same ``BACKPROP_LAB_*`` settings as the
server's (``BACKPROP_LAB_WORKERS`` processes on ``BACKPROP_LAB_QUEUE``). Any
further arguments go to Celery (``python -m app.worker --loglevel=DEBUG``).
"""

from __future__ import annotations

import os

# NOTE: training processes use one BLAS thread (evaluations included, as on the local
# executor); set before NumPy loads, so the forked pool processes inherit no BLAS threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import logging  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from app.db import describe  # noqa: E402
from app.settings import Settings, get_settings  # noqa: E402


def celery_app(settings: Settings) -> Any:
    """The Celery app, with each worker process prepared as it starts."""
    from celery.signals import worker_process_init

    from app.distributed import init_worker_process, make_celery

    app = make_celery(settings)

    @worker_process_init.connect(weak=False)
    def _prepare(**_: Any) -> None:
        init_worker_process(settings)

    return app


def main(argv: list[str] | None = None) -> None:
    """Check the database (migrating it), then run the Celery worker in the foreground."""
    from app.store import RunStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    if not settings.database_url or not settings.database_url.startswith("postgres"):
        sys.exit(
            "A worker needs the database every server shares: set "
            "BACKPROP_LAB_DATABASE_URL=postgresql://user:password@host/db "
            "(and BACKPROP_LAB_BROKER_URL=redis://host:6379/0)."
        )
    try:
        RunStore(settings.database()).close()  # reachable, and at the newest schema
    except Exception as e:
        sys.exit(f"The worker cannot use {describe(settings.database())}: {e}")
    app = celery_app(settings)
    args = [
        "worker",
        f"--concurrency={settings.workers}",
        f"--queues={settings.queue}",
        "--pool=prefork",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        *(argv if argv is not None else sys.argv[1:]),
    ]
    app.worker_main(args)


if __name__ == "__main__":
    main()
