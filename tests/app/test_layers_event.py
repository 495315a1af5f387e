"""The ``layers`` event of POST /train: streamed, replayed, in the history, and its limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import stream
from tests.conftest import Digits, Server

FIELDS = {
    "name",
    "param",
    "grad_mean_abs",
    "grad_max_abs",
    "grad_to_data",
    "update_to_data",
    "activation_hist",
    "grad_hist",
    "saturated",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker and small limits on deeper networks."""
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_PROGRESS_INTERVAL": "0.05",
        "BACKPROP_LAB_MAX_LAYERS": "3",
        "BACKPROP_LAB_MAX_HIDDEN_SIZE": "200",
        "BACKPROP_LAB_MAX_TOTAL_HIDDEN": "300",
        "BACKPROP_LAB_MAX_LAYER_EVENTS": "20",
    }
    srv = Server(tmp_path_factory.mktemp("layers-data"), env).start()
    yield srv
    srv.stop()


def start(url: str, **config: object) -> str:
    r = httpx.post(f"{url}/train", json=config, timeout=30)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_layers_events_stream_with_the_documented_fields(server: Server) -> None:
    run_id = start(server.url, iterations=250, hidden_size=40, batch_size=50, seed=3)
    events = stream(server.url, run_id)
    assert events[-1].event == "done" and events[-1].data["status"] == "completed"
    layers = [e for e in events if e.event == "layers"]
    # every 100 iterations, and at each epoch evaluation (the last at 250; the offline subset's
    # smaller epochs add more)
    epochs = sorted(e.data["iteration"] for e in events if e.event == "epoch")
    assert epochs[-1] == 250
    expected = sorted({100, 200, *epochs})
    assert [e.data["iteration"] for e in layers] == expected
    for ev in layers:
        entries = ev.data["layers"]
        assert [(x["name"], x["param"]) for x in entries] == [("Affine1", "W1"), ("Affine2", "W2")]
        for entry, units, weights in zip(entries, (40, 10), (784 * 40, 40 * 10), strict=True):
            assert set(entry) == FIELDS
            act, grad = entry["activation_hist"], entry["grad_hist"]
            assert len(act["edges"]) == 31 and len(act["counts"]) == 30
            assert len(grad["edges"]) == 31 and len(grad["counts"]) == 30
            assert sum(act["counts"]) == 50 * units  # every element of the batch's output
            assert sum(grad["counts"]) == weights
            assert act["edges"] == sorted(act["edges"])
            assert 0 < entry["grad_mean_abs"] <= entry["grad_max_abs"]
            assert entry["update_to_data"] > 0 and entry["grad_to_data"] > 0
        assert 0 <= entries[0]["saturated"] <= 1  # dead ReLU units
        assert entries[1]["saturated"] is None  # the softmax output is not judged
        assert entries[1]["activation_hist"]["edges"][0] == 0.0  # probabilities: 0..1
        assert entries[1]["activation_hist"]["edges"][-1] == 1.0
    # the epoch's layers event comes before the epoch event of the same iteration
    epoch = [e for e in events if e.event == "epoch"][-1]
    assert epoch.data["iteration"] == 250 and layers[-1].id < epoch.id

    run = httpx.get(f"{server.url}/train/{run_id}").json()
    assert run["config"]["layer_stats_every"] == 100 and run["config"]["activation"] == "relu"
    hist = run["history"]
    assert hist["layers_last"] == layers[-1].data
    assert [p["iteration"] for p in hist["layers"]] == expected
    for point, ev in zip(hist["layers"], layers, strict=True):
        for got, sent in zip(point["layers"], ev.data["layers"], strict=True):
            assert "activation_hist" not in got  # the history keeps histograms for the last only
            assert got["update_to_data"] == sent["update_to_data"]
            assert got["grad_mean_abs"] == sent["grad_mean_abs"]

    # a client resuming after the first layers event gets the rest, the same
    again = stream(server.url, run_id, last_event_id=layers[0].id)
    assert [(e.id, e.data) for e in again if e.event == "layers"] == [
        (e.id, e.data) for e in layers[1:]
    ]


def test_layer_stats_every_zero_sends_none(server: Server) -> None:
    run_id = start(server.url, iterations=30, hidden_size=20, layer_stats_every=0, seed=1)
    events = stream(server.url, run_id)
    assert events[-1].data["status"] == "completed"
    assert "layers" not in {e.event for e in events}
    assert httpx.get(f"{server.url}/train/{run_id}").json()["history"]["layers_last"] is None


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        ({"layers": [10, 10, 10, 10]}, "layers", 3),
        ({"layers": [201]}, "layers", 200),
        ({"layers": [150, 150, 10]}, "layers", 300),
        ({"iterations": 2100, "layer_stats_every": 100}, "layer_stats_every", 20),
    ],
)
def test_deeper_network_limits_are_413(
    server: Server, body: dict[str, object], field: str, limit: int
) -> None:
    r = httpx.post(f"{server.url}/train", json=body)
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "limit_exceeded"
    assert err["details"]["field"] == field and err["details"]["limit"] == limit
    assert field in err["message"] and str(limit) in err["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"layers": []},
        {"layers": [0]},
        {"layers": [10.5]},
        {"activation": "softplus"},
        {"init": "lecun"},
        {"dropout": 0.95},
        {"weight_decay": 1.5},
        {"batch_norm": "yes"},
        {"layer_stats_every": -1},
        {"train_size": 0},
    ],
)
def test_bad_deeper_network_fields_are_422(server: Server, body: dict[str, object]) -> None:
    r = httpx.post(f"{server.url}/train", json={"iterations": 100, **body})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert next(iter(body)) in err["message"]


def test_more_training_images_than_the_dataset_holds_is_422(server: Server) -> None:
    held = httpx.get(f"{server.url}/datasets").json()
    sizes = {d["name"]: d["sizes"]["train"] for d in held["datasets"] if d["usable"]}
    name, n = next(iter(sizes.items()))
    r = httpx.post(
        f"{server.url}/train", json={"dataset": name, "train_size": n + 1, "iterations": 100}
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "train_size_too_large"
    assert err["details"] == {"field": "train_size", "value": n + 1, "limit": n, "dataset": name}
    assert f"{n:,}" in err["message"] and name in err["message"]
    assert not [
        x
        for x in httpx.get(f"{server.url}/runs").json()["runs"]
        if x["config"].get("train_size") == n + 1
    ], "a refused run is not recorded"
    ok = httpx.post(f"{server.url}/train", json={"dataset": name, "train_size": n, "iterations": 1})
    assert ok.status_code == 202, ok.text
    token = {"Authorization": f"Bearer {ok.json()['owner_token']}"}
    httpx.delete(f"{server.url}/train/{ok.json()['id']}", headers=token)


def test_a_deeper_run_streams_every_layer_and_predicts(server: Server) -> None:
    config = {
        "iterations": 60,
        "batch_size": 32,
        "layers": [30, 20, 20],
        "activation": "tanh",
        "init": "xavier",
        "batch_norm": True,
        "dropout": 0.1,
        "layer_stats_every": 20,
        "seed": 2,
    }
    run_id = start(server.url, **config)
    events = stream(server.url, run_id)
    assert events[-1].data["status"] == "completed", events[-1].data
    layers = [e.data for e in events if e.event == "layers"]
    assert [e["iteration"] for e in layers] == [20, 40, 60]
    names = [(x["name"], x["param"]) for x in layers[-1]["layers"]]
    assert names == [(f"Affine{i}", f"W{i}") for i in range(1, 5)]
    for entry, units in zip(layers[-1]["layers"], (30, 20, 20, 10), strict=True):
        assert sum(entry["activation_hist"]["counts"]) == 32 * units
    assert all(0 <= x["saturated"] <= 1 for x in layers[-1]["layers"][:3])
    run = httpx.get(f"{server.url}/train/{run_id}").json()
    assert {k: run["config"][k] for k in config} == config
    assert "30-20-20" in run["name"]
    image = [[0.0] * 28 for _ in range(28)]
    answer = httpx.post(f"{server.url}/runs/{run_id}/predict", json={"image": image})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["probabilities"]) == 10
    assert sum(answer.json()["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    weights = httpx.get(f"{server.url}/runs/{run_id}/weights")
    assert weights.status_code == 200 and weights.json()["shape"] == [784, 30]
