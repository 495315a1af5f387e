"""Runs for a class: Celery's time limits follow the run's limit, Redis waits past the longest
run, and runs go to a short or a long queue by their expected cost."""

from __future__ import annotations

import pytest

from app.settings import Settings
from app.training.celery import cost, make_celery, queues, route, visibility_timeout


def config(iterations: int, batch: int, hidden: int) -> dict[str, int]:
    """A run's configuration, as far as its cost goes."""
    return {"iterations": iterations, "batch_size": batch, "hidden_size": hidden}


def test_a_run_is_routed_by_iterations_batch_and_hidden_size() -> None:
    s = Settings(queue="lab", long_run_cost=1_000_000)
    assert queues(s) == {"short": "lab", "long": "lab.long"}
    assert cost(config(100, 100, 50)) == 500_000
    assert route(s, config(100, 100, 50)) == "lab"
    assert route(s, config(200, 100, 50)) == "lab.long"  # at the threshold: long
    assert route(s, config(100, 100, 100)) == "lab.long"
    assert route(s, config(100, 200, 50)) == "lab.long"


def test_the_default_run_is_short_and_the_largest_allowed_is_long() -> None:
    s = Settings()
    assert route(s, config(10_000, 100, 50)) == s.queue
    largest = config(s.max_iterations, s.max_batch_size, s.max_hidden_size)
    assert route(s, largest) == f"{s.queue}.long"


@pytest.mark.parametrize("limit", [60, 7200, 30 * 3600])
def test_celery_limits_follow_the_runs_wall_clock_limit(limit: int) -> None:
    s = Settings(max_run_seconds=limit)
    conf = make_celery(s).conf
    assert limit < conf.task_soft_time_limit < conf.task_time_limit
    # a run still training is never handed to a second worker by Redis
    assert conf.broker_transport_options["visibility_timeout"] == visibility_timeout(s)
    assert visibility_timeout(s) > conf.task_time_limit


def test_a_worker_takes_one_queue_or_both() -> None:
    assert Settings(worker_queues="long").worker_queues == "long"
    assert Settings(worker_queues="short,long").worker_queues == "short,long"
    with pytest.raises(ValueError, match="worker_queues"):
        Settings(worker_queues="fast")
