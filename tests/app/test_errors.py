"""The one error shape, for failures FastAPI itself raises before any route runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


def assert_error_shape(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def test_json_nested_too_deeply_is_malformed_json_not_a_vague_error(client: httpx.Client) -> None:
    body = "[" * 100_000 + "]" * 100_000
    r = client.post("/graphs/evaluate", content=body, headers={"content-type": "application/json"})
    err = assert_error_shape(r, 400, "malformed_json")
    assert "nested too deeply" in err["message"]


def test_unknown_path_and_wrong_method(client: httpx.Client) -> None:
    err = assert_error_shape(client.get("/no/such/thing"), 404, "not_found")
    assert "/no/such/thing" in err["message"]
    err = assert_error_shape(client.put("/healthz"), 405, "method_not_allowed")
    assert "PUT" in err["message"]


def test_body_over_the_limit_is_413_with_the_limit(client: httpx.Client) -> None:
    big = b'{"nodes": [' + b" " * 9_000_000 + b"]}"
    r = client.post("/graphs/evaluate", content=big, headers={"content-type": "application/json"})
    err = assert_error_shape(r, 413, "body_too_large")
    assert err["details"]["limit"] == 8_000_000


def test_every_route_with_a_body_documents_the_413_it_can_answer(client: httpx.Client) -> None:
    big = b'{"image": [' + b" " * 9_000_000 + b"]}"
    r = client.post("/runs/nope/predict", content=big, headers={"content-type": "application/json"})
    assert_error_shape(r, 413, "body_too_large")
    spec = client.get("/openapi.json").json()
    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    assert posts, "the API has routes that take a body"
    for path, op in posts.items():
        assert "413" in op["responses"], f"{path} does not document 413"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("can't start new thread"), 503, "out_of_memory"),
        (MemoryError(), 503, "out_of_memory"),
        (RuntimeError("something else"), 500, "internal_error"),
    ],
)
def test_a_process_out_of_threads_or_memory_answers_503_not_500(
    error: Exception, status: int, code: str
) -> None:
    """What 24 heavy requests at once did in CI: a thread the server could not start."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    body = assert_error_shape(r, status, code)
    if status == 503:
        assert r.headers["retry-after"] == "5"
        assert "Try again" in body["message"]
