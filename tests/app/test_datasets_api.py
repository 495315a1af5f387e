"""GET /datasets says what will happen for each dataset, without server paths; defaults and 409s."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.app.sse_client import stream
from tests.conftest import ROOT, Digits, Server


def test_datasets_no_paths_and_unavailable_dataset_is_409(tmp_path: Path, digits: Digits) -> None:
    missing = tmp_path / "no-fashion"
    env = {**digits.env, "FASHION_MNIST_DIR": str(missing), "BACKPROP_LAB_WORKERS": "1"}
    server = Server(tmp_path / "data", env).start()
    try:
        r = httpx.get(f"{server.url}/datasets")
        for path in (str(tmp_path), str(ROOT), str(digits.full_dir or ROOT)):
            assert path not in r.text  # no file path of the server reaches a client
        body = r.json()
        by_name = {d["name"]: d for d in body["datasets"]}
        assert list(by_name) == ["mnist", "fashion-mnist", "mnist-10k"]
        assert body["default"] == digits.name
        best = by_name[digits.name]
        assert best["available"] is True and best["usable"] is True
        sizes = {"train": 60000, "test": 10000} if digits.full else {"train": 8000, "test": 2000}
        assert best["sizes"] == sizes
        fashion = by_name["fashion-mnist"]
        assert fashion["state"] == "broken" and fashion["usable"] is False
        assert "$FASHION_MNIST_DIR" in fashion["message"] and "lacks" not in fashion["message"]
        assert "does not exist" in fashion["message"]

        r = httpx.post(f"{server.url}/train", json={"dataset": "fashion-mnist", "iterations": 10})
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "dataset_unavailable"
        assert err["details"]["field"] == "dataset"
        assert "FASHION_MNIST_DIR" in err["message"] and str(missing) not in err["message"]
        assert httpx.get(f"{server.url}/runs").json()["runs"] == []

        r = httpx.post(f"{server.url}/gradcheck", json={"dataset": "fashion-mnist"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "dataset_unavailable"
    finally:
        server.stop()


def test_a_new_user_offline_without_mnist_trains_on_the_subset(tmp_path: Path) -> None:
    """No MNIST anywhere, no mirrors: the defaults pick mnist-10k; asking for mnist says how."""
    env = {
        "MNIST_DIR": "",
        "BACKPROP_LAB_CACHE_DIR": str(tmp_path / "empty-cache"),
        "BACKPROP_LAB_OFFLINE": "1",
        "BACKPROP_LAB_WORKERS": "1",
    }
    server = Server(tmp_path / "data", env).start()
    try:
        body = httpx.get(f"{server.url}/datasets").json()
        assert body["default"] == "mnist-10k"
        mnist = next(d for d in body["datasets"] if d["name"] == "mnist")
        assert mnist["state"] == "missing" and not mnist["usable"]
        assert "MNIST_DIR" in mnist["message"] and "'mnist-10k'" in mnist["message"]
        assert "BACKPROP_LAB_OFFLINE=1" in mnist["message"] and "--" not in mnist["message"]

        r = httpx.post(f"{server.url}/train", json={"dataset": "mnist", "iterations": 5})
        assert r.status_code == 409
        message = r.json()["error"]["message"]
        assert "MNIST_DIR" in message and "'mnist-10k'" in message and "--dataset" not in message

        r = httpx.post(f"{server.url}/train", json={"iterations": 5})  # the README's example
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        assert stream(server.url, run_id)[-1].data["status"] == "completed"
        assert httpx.get(f"{server.url}/train/{run_id}").json()["config"]["dataset"] == "mnist-10k"

        r = httpx.post(f"{server.url}/gradcheck", json={"mode": "fast"}, timeout=120)
        assert r.status_code == 200, r.text
        assert r.json()["passed"] is True
    finally:
        server.stop()
