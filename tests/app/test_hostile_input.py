"""Hostile input the engine and the API must name: odd ids, unknown keys, huge numbers, not JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_export_python import run
from tests.conftest import Server

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    """The app in-process: these tests post and read answers (real servers below for hosts)."""
    return app_client


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """The error of an answer in the one shape, after checking its status."""
    assert r.status_code == status, r.text[:500]
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def two_nodes(first: str, second: str) -> dict[str, Any]:
    """``second = first * 3``, its output ``second``."""
    return {
        "nodes": [
            {"id": first, "op": "input", "value": 2.0},
            {"id": "k", "op": "input", "value": 3.0},
            {"id": second, "op": "mul", "inputs": [first, "k"]},
        ],
        "output": second,
    }


@pytest.mark.parametrize("ids", [("😀", "out"), ("x", "😀"), ("𝑥", "𝔣(𝑥)")])
def test_export_with_ids_outside_the_bmp_runs(
    client: httpx.Client, tmp_path: Path, ids: tuple[str, str]
) -> None:
    graph = two_nodes(*ids)
    r = client.post("/graphs/export/python", json=graph)
    assert r.status_code == 200, r.text
    printed = json.loads(run(r.text, tmp_path, "--json"))
    answer = client.post("/graphs/evaluate", json=graph).json()
    first, second = ids
    assert printed["values"][second] == answer["nodes"][second]["value"] == 6.0
    assert printed["grads"][first] == answer["nodes"][first]["grad"] == 3.0


@pytest.mark.parametrize(
    "bad", ["a\u202eb", "a\u2066b", "\x1b[31mred", "a\nb", "a\u200bb", "a\u2028b", "a\x00"]
)
@pytest.mark.parametrize("path", ["/graphs/evaluate", "/graphs/export/python"])
def test_control_and_bidi_characters_in_node_ids_are_refused(
    client: httpx.Client, path: str, bad: str
) -> None:
    err = error_of(client.post(path, json=two_nodes(bad, "out")), 422)
    assert err["code"] == "bad_id"
    assert err["details"]["field"] == "nodes.0.id"
    assert f"U+{ord(next(c for c in bad if not c.isalnum())):04X}" in err["message"]


def test_a_control_character_in_a_gradcheck_graph_id_is_refused(client: httpx.Client) -> None:
    r = client.post("/gradcheck", json={"graph": two_nodes("a\u202e", "out")})
    assert error_of(r, 422)["code"] == "bad_id"


@pytest.mark.parametrize("path", ["/graphs/evaluate", "/graphs/export/python"])
def test_an_unknown_top_level_key_of_a_graph_is_refused_by_name(
    client: httpx.Client, path: str
) -> None:
    err = error_of(client.post(path, json={**two_nodes("a", "b"), "pad": [0] * 100}), 422)
    assert "'pad'" in err["message"]
    assert err["details"]["field"] == "pad"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/train", {"iterations": 10, "pad": 1}),
        ("/gradcheck", {"mode": "fast", "pad": 1}),
        ("/gradcheck", {"graph": {**two_nodes("a", "b"), "pad": 1}}),
    ],
)
def test_an_unknown_top_level_key_of_a_request_is_refused_by_name(
    client: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    err = error_of(client.post(path, json=body), 422)
    assert "pad" in err["message"]


@pytest.mark.parametrize("path", ["/train", "/graphs/evaluate", "/gradcheck"])
def test_a_5000_digit_integer_is_named_too_large_not_not_json(
    client: httpx.Client, path: str
) -> None:
    body = '{"iterations": ' + "9" * 5000 + "}"
    err = error_of(client.post(path, content=body, headers=JSON), 400)
    assert err["code"] == "number_too_large"
    assert "digits" in err["message"]


@pytest.mark.parametrize("path", ["/train", "/graphs/evaluate", "/graphs/export/python"])
def test_a_text_plain_body_is_told_to_be_json(client: httpx.Client, path: str) -> None:
    r = client.post(path, content='{"iterations": 10}', headers={"content-type": "text/plain"})
    err = error_of(r, 400)
    assert err["code"] == "not_json"
    assert "Content-Type: application/json" in err["message"]


# --------------------------------------------------------------------------- trusted hosts


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example"])
def test_an_unknown_host_name_is_refused_in_the_error_shape(
    client: httpx.Client, host: str
) -> None:
    r = client.get("/limits", headers={"host": host})
    err = error_of(r, 400)
    assert err["code"] == "untrusted_host"
    assert "BACKPROP_LAB_ALLOWED_HOSTS" in err["message"]
    assert r.headers["x-frame-options"] == "DENY"


def test_a_rebound_name_cannot_post_either(client: httpx.Client) -> None:
    r = client.post("/train", json={"iterations": 1}, headers={"host": "evil.example"})
    assert error_of(r, 400)["code"] == "untrusted_host"


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "LOCALHOST", "[::1]"])
def test_loopback_names_are_answered(live_server: Server, name: str) -> None:
    """A real server, addressed by each loopback name with its port."""
    r = httpx.get(live_server.url + "/limits", headers={"host": f"{name}:{live_server.port}"})
    assert r.status_code == 200, r.text


def test_the_allowed_hosts_setting_names_more_or_any(server_factory: Any, tmp_path: Path) -> None:
    env = {"BACKPROP_LAB_ALLOWED_HOSTS": "lab.school.example"}
    named = server_factory(tmp_path / "named", env=env)
    assert httpx.get(named.url + "/healthz", headers={"host": "lab.school.example"}).is_success
    # NOTE: the address the server is bound to is always answered (tests and health checks).
    assert httpx.get(named.url + "/healthz").is_success
    assert httpx.get(named.url + "/healthz", headers={"host": "localhost"}).status_code == 400
    anyone = server_factory(tmp_path / "anyone", env={"BACKPROP_LAB_ALLOWED_HOSTS": "*"})
    assert httpx.get(anyone.url + "/healthz", headers={"host": "evil.example"}).is_success
