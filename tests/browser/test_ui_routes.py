"""The routes behind the page: the page itself, vendor files, the "run npm ci" page, insights."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.routers import ui
from tests.conftest import OPERATOR, Server


def test_page_and_vendor_files_are_served(ui_server: Server) -> None:
    page = httpx.get(ui_server.url + "/")
    assert page.status_code == 200
    assert "/vendor/uplot/uPlot.esm.js" not in page.text  # imported by charts.js, not the page
    assert '<script src="/vendor/dagre/dagre.min.js">' in page.text
    for name, kind in [
        ("dagre/dagre.min.js", "text/javascript"),
        ("uplot/uPlot.esm.js", "text/javascript"),
        ("uplot/uPlot.min.css", "text/css"),
    ]:
        r = httpx.get(f"{ui_server.url}/vendor/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].startswith(kind)
    for path in ("/static/js/app.js", "/static/i18n/en.json", "/static/i18n/zh.json"):
        assert httpx.get(ui_server.url + path).status_code == 200


def test_head_answers_like_get_without_a_body(ui_server: Server) -> None:
    """HEAD on the page, a static file and a vendor file: GET's status and headers, no body
    (link checkers and caches ask with HEAD; it was 405 on the page and the vendor files)."""
    for path in ("/", "/static/js/app.js", "/static/css/app.css", "/vendor/dagre/dagre.min.js"):
        plain = {"Accept-Encoding": "identity"}  # lengths of the bytes themselves
        head = httpx.head(ui_server.url + path, headers=plain)
        get = httpx.get(ui_server.url + path, headers=plain)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
        assert int(head.headers["content-length"]) == len(get.content), path
    assert httpx.head(ui_server.url + "/vendor/uplot/package.json").status_code == 404
    assert httpx.head(ui_server.url + "/static/js/no-such-file.js").status_code == 404


def test_only_the_listed_vendor_files_are_served(ui_server: Server) -> None:
    r = httpx.get(ui_server.url + "/vendor/uplot/package.json")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert httpx.get(ui_server.url + "/vendor/../package.json").status_code == 404


def test_missing_node_modules_says_run_npm_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ui, "VENDOR_FILES", {"uplot/uPlot.esm.js": tmp_path / "missing.js"})
    client = TestClient(create_app())
    page = client.get("/")
    assert page.status_code == 503
    assert "npm ci" in page.text
    vendor = client.get("/vendor/uplot/uPlot.esm.js")
    assert vendor.status_code == 503
    assert vendor.json()["error"]["code"] == "frontend_not_installed"
    assert "npm ci" in vendor.json()["error"]["message"]


def test_catalogues_have_the_same_keys() -> None:
    en = json.loads((ui.STATIC_DIR / "i18n" / "en.json").read_text())
    zh = json.loads((ui.STATIC_DIR / "i18n" / "zh.json").read_text())
    assert set(en) - set(zh) == set()
    only_zh = {k for k in set(zh) - set(en) if not k.startswith(("preset.", "op."))}
    assert only_zh == set()
    template = (ui.TEMPLATES_DIR / "index.html").read_text()
    for key in re.findall(r'data-i18n(?:-[a-z]+)?="([^"]+)"', template):
        assert key in en, key


def test_limits_and_insights_of_unknown_or_unfinished_runs(ui_server: Server) -> None:
    limits = httpx.get(ui_server.url + "/limits").json()
    assert limits["max_iterations"] >= 1
    assert limits["max_gradcheck_batch"] >= 1
    for what in ("weights", "confusion", "misclassified"):
        r = httpx.get(f"{ui_server.url}/runs/no-such-run/{what}")
        assert r.status_code == 404
        assert set(r.json()["error"]) >= {"code", "message"}
    r = httpx.post(
        ui_server.url + "/train",
        json={"iterations": 100_000, "batch_size": 100},
    )
    run = r.json()["id"]
    try:
        r = httpx.get(f"{ui_server.url}/runs/{run}/confusion")
        assert r.status_code == 409
        assert "completed" in r.json()["error"]["message"]
    finally:
        httpx.delete(f"{ui_server.url}/train/{run}", headers=OPERATOR)
    r = httpx.get(f"{ui_server.url}/runs/{run}/misclassified", params={"limit": 0})
    assert r.status_code == 422
