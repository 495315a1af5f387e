"""``python -m app.worker``: a Celery worker that trains runs (executor=celery).

A thin wrapper around ``celery worker``: the broker, the database, the queue
and the concurrency come from the same ``BACKPROP_LAB_*`` settings as the
server's (``BACKPROP_LAB_WORKERS`` processes on the queues of ``BACKPROP_LAB_WORKER_QUEUES``). Any
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
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from app.db import describe, is_disconnect  # noqa: E402
from app.logs import RUN_ID, Outage, setup_logging  # noqa: E402
from app.settings import Settings, get_settings  # noqa: E402

log = logging.getLogger("backprop_lab.worker")


def celery_app(settings: Settings) -> Any:
    """The Celery app, with each worker process prepared as it starts."""
    from billiard.exceptions import WorkerLostError
    from celery.signals import setup_logging as celery_setup_logging
    from celery.signals import task_failure, task_postrun, task_prerun, worker_process_init

    from app.training.celery import init_worker_process, make_celery, retry_lost

    app = make_celery(settings)

    @celery_setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        setup_logging(settings.log_format)  # Celery leaves logging to us when this is connected

    @worker_process_init.connect(weak=False)
    def _prepare(**_: Any) -> None:
        init_worker_process(settings)

    @task_prerun.connect(weak=False)
    def _run_started(task_id: str = "", **_: Any) -> None:
        RUN_ID.set(task_id or None)  # a run's task id is its run id

    @task_failure.connect(weak=False)
    def _process_lost(
        sender: Any = None, task_id: str = "", exception: Any = None, args: Any = None, **_: Any
    ) -> None:
        # NOTE: sent in this main process when a pool process dies mid-task (killed, out of
        # memory); the task is acknowledged, and its run goes back at the front of its queue.
        if isinstance(exception, WorkerLostError):
            info = getattr(getattr(sender, "request", None), "delivery_info", None) or {}
            retry_lost(app, task_id, args, info.get("routing_key") or settings.queue)

    @task_postrun.connect(weak=False)
    def _run_ended(**_: Any) -> None:
        RUN_ID.set(None)

    return app


def main(argv: list[str] | None = None) -> None:
    """Check the dataset and the database (migrating it), then run the Celery worker."""
    settings = get_settings()
    setup_logging(settings.log_format)
    if settings.metrics_port:
        # NOTE: before prometheus_client is first imported: the pool's processes write their
        # metrics into files there, and this process serves them all on one port.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="lab-metrics-"))
    from app.datasets import missing_dataset
    from app.labsettings import WORKER, Disagree, agree
    from app.training.celery import queues
    from app.training.store import RunStore

    dataset = settings.lab_dataset() or "mnist"
    missing = missing_dataset(dataset)
    if missing:
        log.error("The worker does not start: %s", missing)
        sys.exit(2)
    if not settings.database_url or not settings.database_url.startswith("postgres"):
        sys.exit(
            "A worker needs the database every server shares: set "
            "BACKPROP_LAB_DATABASE_URL=postgresql://user:password@host/db "
            "(and BACKPROP_LAB_BROKER_URL=redis://host:6379/0)."
        )
    outage = Outage(log, f"The database ({describe(settings.database())})")
    while True:
        try:
            store = RunStore(settings.database())  # reachable, and at the newest schema
            try:
                agree(store.engine, settings, WORKER)
            except Disagree:
                sys.exit(3)  # logged
            finally:
                store.close()
            break
        except Exception as e:
            if not is_disconnect(e):
                sys.exit(f"The worker cannot use {describe(settings.database())}: {e}")
            outage.down(e, "the worker starts when it answers")
            time.sleep(2)
    outage.up()
    app = celery_app(settings)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        from app.metrics import process_registry

        start_http_server(settings.metrics_port, registry=process_registry())
        log.info("metrics on :%d/metrics", settings.metrics_port)
    args = [
        *(["--quiet"] if settings.log_format == "json" else []),  # no banner: JSON lines only
        "worker",
        f"--concurrency={settings.workers}",
        f"--queues={','.join(queues(settings)[k] for k in settings.worker_queues.split(','))}",
        "--pool=prefork",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        *(argv if argv is not None else sys.argv[1:]),
    ]
    app.worker_main(args)


if __name__ == "__main__":
    main()
