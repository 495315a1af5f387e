"""One limits map: GET /limits reports every limit in force; the graph engine gets its share."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.schemas_service import ServerLimits
from app.settings import Settings
from engine.graph import Limits
from tests.conftest import ROOT, in_process

SMALL = {
    "max_iterations": 7,
    "max_hidden_size": 9,
    "max_graph_nodes": 5,
    "max_tensor_elements": 11,
    "max_total_elements": 13,
    "max_body_bytes": 4096,
    "max_subscribers_per_run": 3,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The app in-process, started with the small limits above."""
    env = {f"BACKPROP_LAB_{k.upper()}": str(v) for k, v in SMALL.items()}
    with in_process(tmp_path_factory.mktemp("limits-map"), env) as client:
        yield client


def test_limits_reports_every_limit_in_force(server: httpx.Client) -> None:
    body = server.get("/limits").json()
    settings = [name for name in Settings.model_fields if name.startswith("max_")]
    assert set(body) == {*settings, "max_tensor_dims"}
    for name, value in SMALL.items():
        assert body[name] == value, name
    assert body["max_gradcheck_batch"] == Settings.model_fields["max_gradcheck_batch"].default
    assert body["max_tensor_dims"] == Limits().max_tensor_dims


def test_graph_limits_agree_with_limits_and_graphs_ops(server: httpx.Client) -> None:
    """/graphs/ops shows the engine's Limits the one builder made: the same numbers as /limits."""
    limits = server.get("/limits").json()
    ops = server.get("/graphs/ops").json()["limits"]
    assert ops == {name: limits[name] for name in ops}
    r = server.post(
        "/graphs/evaluate",
        json={"nodes": [{"id": "a", "op": "input", "value": [0] * 12}], "output": "a"},
    )
    assert r.status_code == 413 and r.json()["error"]["details"]["limit"] == 11


def test_one_builder_of_the_engine_limits() -> None:
    settings = Settings(max_graph_nodes=3, max_tensor_elements=4, max_total_elements=5)
    built = settings.graph_limits()
    assert built == Limits(max_graph_nodes=3, max_tensor_elements=4, max_total_elements=5)
    assert Settings().graph_limits() == Limits()  # the engine's defaults are the settings' too


def test_the_public_model_lists_every_limit() -> None:
    assert set(ServerLimits.model_fields) == set(Settings().limits())


def test_no_two_limits_classes() -> None:
    """Only the engine's dataclass is called Limits; /limits lives in its own router."""
    named = [
        path.relative_to(ROOT).as_posix()
        for folder in ("app", "engine")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "Limits"
    ]
    assert len(named) == 1 and named[0].startswith("engine/"), named
    assert "/limits" not in Path(ROOT / "app" / "routers" / "insights.py").read_text()
