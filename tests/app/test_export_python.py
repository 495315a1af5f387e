"""POST /graphs/export/python: a script that needs NumPy alone and prints what evaluate says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.graph.ops import OPS
from engine.graph.presets import PRESETS
from tests.app.test_graphs_fuzz import valid_graphs


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


def export(client: httpx.Client, graph: dict[str, Any]) -> str:
    r = client.post("/graphs/export/python", json=graph)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    assert 'filename="graph.py"' in r.headers["content-disposition"]
    return r.text


def run(script: str, tmp: Path, *args: str) -> str:
    """Run the script in a fresh interpreter that can import NumPy and nothing of ours."""
    path = tmp / "graph.py"
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, "-I", str(path), *args],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_same(printed: dict[str, Any], answer: dict[str, Any]) -> None:
    """The script's values and gradients equal the API's (which rounds to 15 digits)."""
    assert set(printed["values"]) == set(answer["nodes"])
    for n, node in answer["nodes"].items():
        np.testing.assert_allclose(printed["values"][n], node["value"], rtol=1e-13, atol=1e-300)
        if node["grad"] is None:  # class labels: no gradient, in both
            assert printed["grads"][n] is None, n
            continue
        np.testing.assert_allclose(printed["grads"][n], node["grad"], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("preset", [p.id for p in PRESETS])
def test_every_presets_script_prints_what_the_api_answers(
    client: httpx.Client, preset: str, tmp_path: Path
) -> None:
    graph = next(p for p in PRESETS if p.id == preset).public()["graph"]
    script = export(client, graph)
    assert "import numpy as np" in script and "from engine" not in script
    printed = json.loads(run(script, tmp_path, "--json"))
    assert_same(printed, client.post("/graphs/evaluate", json=graph).json())


@pytest.mark.parametrize("preset", ["softmax_with_loss", "softmax_with_loss_primitives"])
def test_labels_get_no_gradient_null_in_the_script_and_the_api(
    client: httpx.Client, preset: str, tmp_path: Path
) -> None:
    """t is class labels: null in --json, said so in print, null in /graphs/evaluate."""
    graph = next(p for p in PRESETS if p.id == preset).public()["graph"]
    script = export(client, graph)
    printed = json.loads(run(script, tmp_path, "--json"))
    assert printed["grads"]["t"] is None
    assert printed["grads"]["x"] is not None
    answer = client.post("/graphs/evaluate", json=graph).json()
    assert answer["nodes"]["t"]["grad"] is None and not answer["nodes"]["t"]["differentiable"]
    assert all(e["grad"] is None for e in answer["edges"] if e["from"] == "t")
    assert "dL/dt: none (t holds class labels, which get no gradient)" in run(script, tmp_path)


def test_the_apples_script_reads_as_the_book(client: httpx.Client, tmp_path: Path) -> None:
    """MulLayer written out from the engine's source; the chapter's numbers printed."""
    graph = next(p for p in PRESETS if p.id == "apples").public()["graph"]
    script = export(client, graph)
    assert "class MulLayer:" in script and "def backward(self, dout):" in script
    assert "class AddLayer" not in script  # only the classes the graph uses
    text = run(script, tmp_path)
    assert "price = 220.00000000000003" in text
    assert "dL/dapple = 2.2" in text and "dL/dtax = 200.0" in text
    printed = json.loads(run(script, tmp_path, "--json"))
    assert printed["values"]["price"] == pytest.approx(220)
    assert printed["grads"]["apple_num"] == pytest.approx(110)


def test_broken_layers_and_overwrite_export_their_bug(client: httpx.Client, tmp_path: Path) -> None:
    nodes = [
        {"id": "x", "op": "input", "value": [-1.0, 2.0]},
        {"id": "r", "op": "relu", "inputs": ["x"], "variant": "no_mask"},
        {"id": "m", "op": "mul", "inputs": ["r", "r"], "variant": "no_swap"},
        {"id": "s", "op": "sum", "inputs": ["m"]},
    ]
    for accumulate in ("sum", "overwrite"):
        graph = {"nodes": nodes, "output": "s", "accumulate": accumulate}
        script = export(client, graph)
        assert "class ReluNoMask(Relu):" in script and "class MulLayerNoSwap(MulLayer):" in script
        assert "# broken layer (no_mask)" in script
        printed = json.loads(run(script, tmp_path, "--json"))
        assert_same(printed, client.post("/graphs/evaluate", json=graph).json())


@given(graph=valid_graphs(), variants=st.booleans(), overwrite=st.booleans())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_graphs_export_to_scripts_that_agree(
    client: httpx.Client, tmp_path: Path, graph: dict[str, Any], variants: bool, overwrite: bool
) -> None:
    if variants:
        for node in graph["nodes"]:
            if OPS[node["op"]].variants:
                node["variant"] = OPS[node["op"]].variants[0].name
    if overwrite:
        graph["accumulate"] = "overwrite"
    answer = client.post("/graphs/evaluate", json=graph)
    if answer.status_code == 422:  # e.g. a log of a negative number: the same error
        exported = client.post("/graphs/export/python", json=graph)
        assert (exported.status_code, exported.json()) == (422, answer.json())
        return
    assert answer.status_code == 200, answer.text
    printed = json.loads(run(export(client, graph), tmp_path, "--json"))
    assert_same(printed, answer.json())


def test_a_bad_graph_gets_the_same_error_as_evaluate(client: httpx.Client) -> None:
    for graph in (
        {"nodes": [{"id": "a", "op": "nope"}], "output": "a"},
        {
            "nodes": [
                {"id": "a", "op": "input", "value": 1000},
                {"id": "e", "op": "exp", "inputs": ["a"]},
            ],
            "output": "e",
        },
        [1, 2],
    ):
        exported = client.post("/graphs/export/python", json=graph)
        evaluated = client.post("/graphs/evaluate", json=graph)
        assert exported.status_code == evaluated.status_code == 422
        assert exported.json() == evaluated.json()
    r = client.post(
        "/graphs/export/python", content=b"{", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
