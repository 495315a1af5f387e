"""A hostile client: lone surrogates, chunked floods, wrong methods, coerced types, framing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app.sse_client import finished_run, stream
from tests.conftest import Digits, Server

#: Small limits, so a schema-valid request is refused or finishes at once.
ENV = {
    "BACKPROP_LAB_WORKERS": "1",
    "BACKPROP_LAB_MAX_ITERATIONS": "20",
    "BACKPROP_LAB_MAX_HIDDEN_SIZE": "30",
    "BACKPROP_LAB_MAX_BODY_BYTES": "100000",
}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with the real MNIST, one worker and small limits."""
    srv = Server(tmp_path_factory.mktemp("hostile-data"), {**digits.env, **ENV})
    yield srv.start()
    srv.stop()


@pytest.fixture(scope="module")
def done_run(server: Server) -> str:
    """A completed (tiny) run, so routes under /runs/{id} get as far as the body."""
    config = {"iterations": 1, "hidden_size": 2, "batch_size": 2}
    run_id = finished_run(server.url, config)
    return run_id


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """The error of an answer in the one shape, after checking its status."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


# --------------------------------------------------------------------------- lone surrogates

SURROGATE_BODIES = [
    (
        "/graphs/evaluate",
        '{"nodes": [{"id": "\\ud800", "op": "input", "value": 1}], "output": "x"}',
    ),
    ("/graphs/evaluate", '{"nodes": [{"id": "a", "op": "\\ud800"}], "output": "a"}'),
    (
        "/graphs/evaluate",
        '{"nodes": [{"id": "a", "op": "input", "value": 1}], "output": "\\udfff"}',
    ),
    ("/train", '{"optimizer": "\\ud800"}'),
    ("/train", '{"dataset": "mnist\\udc00"}'),
    ("/train", '{"\\ud800": 1}'),
    ("/gradcheck", '{"dataset": "\\ud800"}'),
    ("/gradcheck", '{"graph": {"nodes": [{"id": "\\ud9ff", "op": "input", "value": 1}]}}'),
]


@pytest.mark.parametrize(("path", "body"), SURROGATE_BODIES)
def test_a_lone_surrogate_is_a_400_not_a_500(server: Server, path: str, body: str) -> None:
    r = httpx.post(server.url + path, content=body, headers=JSON)
    err = error_of(r, 400)
    assert err["code"] == "invalid_unicode"
    assert "surrogate" in err["message"]


def test_a_lone_surrogate_in_predict_is_a_400(server: Server, done_run: str) -> None:
    body = '{"image": [[0.5]], "\\udbff": 0}'
    r = httpx.post(f"{server.url}/runs/{done_run}/predict", content=body, headers=JSON)
    assert error_of(r, 400)["code"] == "invalid_unicode"


def test_a_surrogate_pair_is_one_character_and_fine(server: Server) -> None:
    smile = "\\ud83d\\ude00"  # U+1F600 as a JSON surrogate pair
    body = f'{{"nodes": [{{"id": "{smile}", "op": "input", "value": 2}}], "output": "{smile}"}}'
    r = httpx.post(server.url + "/graphs/evaluate", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["output"]["id"] == "\N{GRINNING FACE}"


def test_a_backslash_before_u_is_not_an_escape(server: Server) -> None:
    body = '{"nodes": [{"id": "\\\\ud800", "op": "input", "value": 2}], "output": "\\\\ud800"}'
    r = httpx.post(server.url + "/graphs/evaluate", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["output"]["id"] == "\\ud800"


# --------------------------------------------------------------------------- chunked bodies


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON body of ``total`` bytes, sent with Transfer-Encoding: chunked."""
    yield b'{"nodes": ['
    sent = len(b'{"nodes": [')
    while sent < total - 2:
        piece = b" " * min(size, total - 2 - sent)
        sent += len(piece)
        yield piece
    yield b"]}"


def test_a_chunked_body_over_the_limit_is_413(server: Server) -> None:
    content = chunks(300_000)
    r = httpx.post(server.url + "/graphs/evaluate", content=content, headers=JSON)
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    err = error_of(r, 413)
    assert err["code"] == "body_too_large"
    assert err["details"]["limit"] == 100_000


def test_a_chunked_body_under_the_limit_is_read_whole(server: Server) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"nodes": [{"id": "a", "op": "input", '
        yield b'"value": 3}], "output": "a"}'

    r = httpx.post(server.url + "/graphs/evaluate", content=body(), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["output"]["value"] == 3.0


# --------------------------------------------------------------------------- 405 and Allow


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/healthz", {"GET"}),
        ("GET", "/train", {"POST"}),
        ("PUT", "/train/abc", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/graphs/evaluate", {"POST"}),
        ("POST", "/limits", {"GET"}),
        ("POST", "/static/js/app.js", {"GET", "HEAD"}),
    ],
)
def test_405_names_the_allowed_methods(
    server: Server, method: str, path: str, allowed: set[str]
) -> None:
    r = httpx.request(method, server.url + path)
    assert error_of(r, 405)["code"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


# --------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"iterations": True}, "iterations"),
        ({"iterations": "5"}, "iterations"),
        ({"iterations": 5.5}, "iterations"),
        ({"hidden_size": False}, "hidden_size"),
        ({"learning_rate": "0.1"}, "learning_rate"),
        ({"learning_rate": True}, "learning_rate"),
        ({"seed": "1"}, "seed"),
        ({"weight_init_std": "0.01"}, "weight_init_std"),
    ],
)
def test_train_refuses_coerced_types(server: Server, body: dict[str, Any], field: str) -> None:
    err = error_of(httpx.post(server.url + "/train", json=body), 422)
    assert err["details"]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch_size": True}, "batch_size"),
        ({"eps": "0.001"}, "eps"),
        ({"model": {"hidden_size": "5"}}, "model.hidden_size"),
    ],
)
def test_gradcheck_refuses_coerced_types(server: Server, body: dict[str, Any], field: str) -> None:
    err = error_of(httpx.post(server.url + "/gradcheck", json=body), 422)
    assert err["details"]["field"] == field


def test_numbers_may_be_spelled_either_way(server: Server) -> None:
    """A JSON number is a number: learning rate 1, or iterations 1e1 / 2.0, are accepted."""
    config = {"iterations": 2.0, "hidden_size": 2, "batch_size": 2, "learning_rate": 1}
    r = httpx.post(server.url + "/train", json=config)
    assert r.status_code == 202, r.text
    run = httpx.get(f"{server.url}/train/{r.json()['id']}").json()
    assert run["config"]["iterations"] == 2 and isinstance(run["config"]["iterations"], int)
    assert stream(server.url, r.json()["id"])[-1].data["status"] == "completed"


@pytest.mark.parametrize("pixel", ["0.5", True, None])
def test_predict_refuses_pixels_that_are_not_numbers(
    server: Server, done_run: str, pixel: Any
) -> None:
    image: list[list[Any]] = [[0.0] * 28 for _ in range(28)]
    image[3][4] = pixel
    r = httpx.post(f"{server.url}/runs/{done_run}/predict", json={"image": image})
    err = error_of(r, 422)
    assert err["details"]["field"] == "image.3.4"


def test_predict_takes_integer_pixels(server: Server, done_run: str) -> None:
    image = [[0] * 28 for _ in range(28)]
    image[10][10] = 1
    r = httpx.post(f"{server.url}/runs/{done_run}/predict", json={"image": image})
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- security headers


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    parts = [d.split() for d in policy.split(";") if d.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("path", ["/", "/healthz", "/static/js/app.js", "/no/such/page"])
def test_every_answer_forbids_framing_and_sniffing(server: Server, path: str) -> None:
    r = httpx.get(server.url + path)
    assert r.headers["x-content-type-options"] == "nosniff"
    policy = directives(r.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, nothing from elsewhere
    assert policy["default-src"] == ["'self'"]


def test_the_api_docs_page_still_loads_its_scripts(server: Server) -> None:
    """/docs (Swagger UI) loads from a CDN with an inline script: its own, looser policy."""
    r = httpx.get(server.url + "/docs")
    policy = directives(r.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert "https://cdn.jsdelivr.net" in policy["script-src"]
