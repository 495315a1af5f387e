"""GET /datasets; POST /train for a dataset this server lacks is a 409, not a failed run."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Server


def test_datasets_and_unavailable_dataset_is_409(tmp_path: Path, mnist_dir: Path) -> None:
    missing = tmp_path / "no-fashion"
    env = {
        "MNIST_DIR": str(mnist_dir),
        "FASHION_MNIST_DIR": str(missing),
        "BACKPROP_LAB_WORKERS": "1",
    }
    server = Server(tmp_path / "data", env).start()
    try:
        body = httpx.get(f"{server.url}/datasets").json()
        by_name = {d["name"]: d for d in body["datasets"]}
        assert {"mnist", "fashion-mnist", "mnist-10k"} <= set(by_name)
        mnist = by_name["mnist"]
        assert mnist["available"] is True
        assert mnist["source"] == str(mnist_dir)
        assert mnist["sizes"] == {"train": 60000, "test": 10000}
        fashion = by_name["fashion-mnist"]
        assert fashion["available"] is False
        assert str(missing) in fashion["message"]

        r = httpx.post(f"{server.url}/train", json={"dataset": "fashion-mnist", "iterations": 10})
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "dataset_unavailable"
        assert err["details"]["field"] == "dataset"
        assert str(missing) in err["message"]
        assert httpx.get(f"{server.url}/runs").json()["runs"] == []

        r = httpx.post(f"{server.url}/gradcheck", json={"dataset": "fashion-mnist"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "dataset_unavailable"
    finally:
        server.stop()
