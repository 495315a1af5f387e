"""GET /datasets says what will happen for each dataset, without server paths; defaults and 409s."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from functools import partial
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from app.training.attempt import WorkerMessage, WorkerOptions, train
from engine.cli import build_parser
from engine.data import CACHE_ENV, NAMES, OFFLINE_ENV, SPECS
from tests.app.sse_client import stream
from tests.conftest import ROOT, Digits, Server
from tests.engine.test_datasets import fake_payloads, sha, write_set


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


class _Sent(list[WorkerMessage]):
    """A reporter that keeps what the attempt sends and never asks it to stop."""

    def put(self, msg: WorkerMessage) -> None:
        self.append(msg)

    def stop_requested(self) -> bool:
        return False


@pytest.fixture
def no_mnist_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache, no MNIST_DIR, downloads allowed, no system directory."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for var in ("MNIST_DIR", OFFLINE_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], system_dirs=()))
    return tmp_path / "cache"


def test_a_first_use_download_streams_its_progress(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_mnist_here: Path
) -> None:
    """The worker fetches a missing dataset and sends `download` events the page shows."""
    root = write_set(tmp_path / "www", fake_payloads())
    mirror = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    )
    threading.Thread(target=mirror.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{mirror.server_address[1]}/"
    spec = dataclasses.replace(SPECS["mnist"], mirrors=(url,), sha256=sha(fake_payloads()))
    monkeypatch.setitem(SPECS, "mnist", spec)
    sent = _Sent()
    config = {"dataset": "mnist", "iterations": 3, "batch_size": 10}
    try:
        train("r", config, sent, {}, WorkerOptions(preload=()))
    finally:
        mirror.shutdown()
        mirror.server_close()
    downloads = [m.data for m in sent if m.kind == "download"]
    assert {d["file"] for d in downloads} == {f"{stem}.gz" for stem in fake_payloads()}
    assert all(d["dataset"] == "mnist" and 0 < d["bytes"] <= d["total"] for d in downloads)
    assert sent[-1].kind == "done" and sent[-1].data["status"] == "completed"
    assert (no_mnist_here / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_a_run_that_cannot_get_its_dataset_names_the_alternative(
    monkeypatch: pytest.MonkeyPatch, no_mnist_here: Path
) -> None:
    """The failed run names a dataset to use instead; the page words it as a menu choice."""
    monkeypatch.setenv(OFFLINE_ENV, "1")
    sent = _Sent()
    train("r", {"dataset": "mnist"}, sent, {}, WorkerOptions())
    done = sent[-1].data
    assert done["status"] == "failed" and done["alternative"] == "mnist-10k"
    assert "--dataset" not in done["message"]


def test_dataset_names_have_one_home() -> None:
    """The API schema and the CLI list the engine's table of datasets, not copies of it."""
    schemas = create_app().openapi()["components"]["schemas"]
    for model in ("TrainRequest", "GradcheckRequest"):
        (named, _none) = schemas[model]["properties"]["dataset"]["anyOf"]
        assert named["enum"] == list(NAMES)
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    (dataset,) = [a for a in train._actions if a.dest == "dataset"]
    assert tuple(dataset.choices or ()) == NAMES


def test_the_download_setting_decides_what_clients_are_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_mnist_here: Path
) -> None:
    """Mirrors in reach: 'downloaded on first use' if the server downloads, else how to provide."""
    import app.datasets as app_datasets

    mirror = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=mirror.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{mirror.server_address[1]}/"
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], mirrors=(url,)))
    monkeypatch.setattr(app_datasets, "_cache", {})
    try:
        on = app_datasets.public_status("mnist", Settings(download_datasets=True))
        off = app_datasets.public_status("mnist", Settings(download_datasets=False))
    finally:
        mirror.shutdown()
        mirror.server_close()
    assert on["state"] == "download" and on["usable"] and "first uses it" in on["message"]
    assert off["state"] == "missing" and not off["usable"]
    assert "BACKPROP_LAB_DOWNLOAD_DATASETS=false" in off["message"]
    assert app_datasets.default_dataset(Settings(download_datasets=False)) == "mnist-10k"
    assert app_datasets.require_dataset(None, Settings(download_datasets=True)) == "mnist"
