"""POST /runs/{id}/predict: a finished run's network classifies a posted 28x28 image."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.app.sse_client import stream, wait_status
from tests.conftest import OPERATOR, Digits, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with the real digits (see the test header) and one worker."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1"}
    srv = Server(tmp_path_factory.mktemp("predict-data"), env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def trained(server: Server) -> str:
    run_id = httpx.post(f"{server.url}/train", json={"iterations": 1200, "seed": 0}).json()["id"]
    assert stream(server.url, run_id)[-1].data["status"] == "completed"
    return str(run_id)


def test_predicts_test_digits(server: Server, trained: str, digits: Digits) -> None:
    data = digits.load()  # the digits the server trained on (full MNIST or the subset)
    x, t = data.x_test[:50].reshape(-1, 28, 28), data.t_test[:50]
    right = 0
    for img, label in zip(x, t, strict=True):
        r = httpx.post(f"{server.url}/runs/{trained}/predict", json={"image": (img / 255).tolist()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["probabilities"]) == 10
        assert sum(body["probabilities"]) == pytest.approx(1.0)
        assert body["label"] == int(np.argmax(body["probabilities"]))
        right += body["label"] == int(label)
    assert right >= 40


def test_predict_before_done_is_409(server: Server) -> None:
    run_id = httpx.post(f"{server.url}/train", json={"iterations": 100_000}).json()["id"]
    try:
        r = httpx.post(f"{server.url}/runs/{run_id}/predict", json={"image": [[0.0] * 28] * 28})
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "run_not_finished"
        assert run_id in err["message"]
    finally:
        httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    run = wait_status(server.url, run_id, {"cancelled"})
    r = httpx.post(f"{server.url}/runs/{run_id}/predict", json={"image": [[0.0] * 28] * 28})
    # A run cancelled before its first iteration has nothing to predict with.
    if not run["has_weights"]:
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "no_weights"
    else:
        assert r.status_code == 200


def test_a_cancelled_run_that_trained_keeps_its_weights(server: Server) -> None:
    run_id = httpx.post(f"{server.url}/train", json={"iterations": 100_000}).json()["id"]
    # Wait until it has trained: the first two events are `running` and a `progress`.
    assert [e.event for e in stream(server.url, run_id, limit=2)] == ["running", "progress"]
    httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    run = wait_status(server.url, run_id, {"cancelled"})
    assert run["has_weights"] is True
    r = httpx.post(f"{server.url}/runs/{run_id}/predict", json={"image": [[0.0] * 28] * 28})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{server.url}/runs/{run_id}/confusion").status_code == 200
    assert httpx.get(f"{server.url}/runs/{run_id}/weights").status_code == 200
    listed = {r["id"]: r for r in httpx.get(f"{server.url}/runs").json()["runs"]}
    assert listed[run_id]["has_weights"] is True


def test_runs_have_names_from_their_settings_and_can_be_renamed(
    server: Server, trained: str
) -> None:
    run = httpx.get(f"{server.url}/train/{trained}").json()
    assert run["name"] == "SGD lr 0.1 · 50 hidden · 1,200 it." and run["named"] is False
    r = httpx.patch(
        f"{server.url}/train/{trained}", json={"name": "  My first net  "}, headers=OPERATOR
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "My first net" and r.json()["named"] is True
    assert httpx.get(f"{server.url}/train/{trained}").json()["name"] == "My first net"
    listed = {r["id"]: r for r in httpx.get(f"{server.url}/runs").json()["runs"]}
    assert listed[trained]["name"] == "My first net"
    for body, code in (
        ({"name": "   "}, "empty_name"),
        ({"name": "x" * 81}, "name_too_long"),
        ({"name": "a\nb"}, "bad_name"),
    ):
        r = httpx.patch(f"{server.url}/train/{trained}", json=body)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == code and err["details"]["field"] == "name"
    r = httpx.patch(f"{server.url}/train/{trained}", json={"name": 5})
    assert r.status_code == 422 and "error" in r.json()
    assert httpx.patch(f"{server.url}/train/nope", json={"name": "a"}).status_code == 404


def test_unknown_run_is_404(server: Server) -> None:
    r = httpx.post(f"{server.url}/runs/none/predict", json={"image": [[0.0] * 28] * 28})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "run_not_found"


@pytest.mark.parametrize(
    ("image", "code", "words"),
    [
        ([[0.0] * 28] * 27, "bad_shape", "27 rows"),
        ([[0.0] * 28] * 27 + [[0.0] * 5], "bad_shape", "row 27 has 5"),
        ([[0.0] * 28] * 27 + [[0.0] * 27 + [1.5]], "out_of_range", "row 27, column 27 is 1.5"),
        ([[-0.1] + [0.0] * 27] * 28, "out_of_range", "0..1"),
    ],
)
def test_bad_images_are_422(
    server: Server, trained: str, image: list[list[float]], code: str, words: str
) -> None:
    r = httpx.post(f"{server.url}/runs/{trained}/predict", json={"image": image})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == code
    assert words in err["message"]
    assert err["details"]["field"] == "image"


def test_nan_and_wrong_types_are_422(server: Server, trained: str) -> None:
    row = "[" + ",".join(["0"] * 27 + ["NaN"]) + "]"
    body = '{"image": [' + ",".join([row] * 28) + "]}"
    r = httpx.post(
        f"{server.url}/runs/{trained}/predict",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "not_finite"
    r = httpx.post(f"{server.url}/runs/{trained}/predict", json={"image": "seven"})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "image"
    r = httpx.post(f"{server.url}/runs/{trained}/predict", json={"image": [0.5] * 784})
    assert r.status_code == 422
