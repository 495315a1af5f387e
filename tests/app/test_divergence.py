"""A run whose loss diverges to finite but huge values completes with a warning, not silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app.sse_client import stream
from tests.conftest import Digits, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker and the real digits."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_PROGRESS_INTERVAL": "0.05"}
    srv = Server(tmp_path_factory.mktemp("divergence-data"), env).start()
    yield srv
    srv.stop()


def strict(text: str) -> Any:
    """Parse JSON that must be strict (no NaN or Infinity)."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in strict JSON")

    return json.loads(text, parse_constant=refuse)


def train(server: Server, digits: Digits, learning_rate: float) -> tuple[str, dict[str, Any]]:
    """Run 300 iterations at ``learning_rate``; the run id and its done event."""
    config = {"dataset": digits.name, "iterations": 300, "learning_rate": learning_rate, "seed": 0}
    r = httpx.post(f"{server.url}/train", json=config)
    assert r.status_code == 202, r.text
    run_id = str(r.json()["id"])
    events = stream(server.url, run_id)
    assert events[-1].event == "done"
    return run_id, events[-1].data


def test_a_diverging_run_completes_with_a_warning(server: Server, digits: Digits) -> None:
    run_id, done = train(server, digits, 100.0)
    assert done["status"] == "completed"  # finite losses: training itself did not fail
    warning = done["warning"]
    assert "diverged" in warning and "lower the learning rate" in warning
    run = strict(httpx.get(f"{server.url}/train/{run_id}").text)
    assert run["status"] == "completed" and run["warning"] == warning
    assert max(run["history"]["loss"]) > 10 * run["history"]["loss"][0]
    listed = strict(httpx.get(f"{server.url}/runs").text)["runs"]
    assert next(r for r in listed if r["id"] == run_id)["warning"] == warning
    # every answer about the diverged run is strict JSON
    url = f"{server.url}/runs/{run_id}"
    for r in [
        httpx.get(f"{server.url}/train/{run_id}/history.json"),
        httpx.get(f"{url}/weights"),
        httpx.get(f"{url}/confusion", timeout=60),
        httpx.get(f"{url}/misclassified", timeout=60),
        httpx.post(f"{url}/predict", json={"image": [[0.5] * 28 for _ in range(28)]}),
    ]:
        assert r.status_code == 200, r.text
        strict(r.text)
    text = httpx.get(f"{server.url}/train/{run_id}/events").text
    for line in text.splitlines():
        if line.startswith("data:"):
            strict(line[5:])


def test_a_run_that_learns_has_no_warning(server: Server, digits: Digits) -> None:
    run_id, done = train(server, digits, 0.1)
    assert done["status"] == "completed"
    assert "warning" not in done
    assert httpx.get(f"{server.url}/train/{run_id}").json()["warning"] is None
