"""API fuzz against a real server: schemathesis over the whole OpenAPI schema (no 5xx,
conformant), and random JSON bodies of every shape posted to every POST route.

The event stream is excluded (it stays open while a run trains); training limits
are tiny so fuzzed runs finish at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from engine.graph.ops import OPS
from tests.app.sse_client import stream
from tests.conftest import Digits, Server

#: Small limits, so whatever the fuzzer sends finishes quickly (server and schema alike).
LIMITS = {
    "workers": 1,
    "max_iterations": 20,
    "max_hidden_size": 30,
    "max_batch_size": 50,
    "max_active_runs": 3,
    "max_gradcheck_batch": 3,
    "max_gradcheck_work": 100_000,
    "max_graph_nodes": 30,
    "max_tensor_elements": 1000,
    "max_total_elements": 5000,
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with the small limits."""
    env = {f"BACKPROP_LAB_{k.upper()}": str(v) for k, v in LIMITS.items()}
    srv = Server(tmp_path_factory.mktemp("fuzz-data"), {**digits.env, **env})
    yield srv.start()
    srv.stop()


# api.md: bad input is 400/404/409/413/422. A schema-valid body may still be refused with 413
# (a server limit) or 422 (what JSON Schema cannot say: a graph's structure, an image's shape),
# and a change to a run the fuzzer does not own with 403, a full lab with 429.
REJECTIONS = ["400", "403", "404", "405", "409", "410", "413", "422", "429"]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REJECTIONS},
            "positive_data_acceptance": {"expected-statuses": ["2xx", *REJECTIONS]},
        }
    }
)


def raw_schema() -> dict[str, Any]:
    """The app's OpenAPI schema with the small limits (built without starting the app)."""
    from app.main import create_app
    from app.settings import Settings

    return create_app(Settings(**LIMITS)).openapi()  # type: ignore[arg-type]


def load_schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI schema for schemathesis, streams excluded."""
    return schemathesis.openapi.from_dict(raw_schema(), config=CONFIG).exclude(
        path_regex=r".*/events$"
    )


SCHEMA = load_schema()
OPERATIONS = {
    result.ok().label: result.ok()
    for result in SCHEMA.get_all_operations()
    if isinstance(result, Ok)
}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_api_never_fails_and_conforms(fuzz_server: Server, label: str) -> None:
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=fuzz_server.url, timeout=60)

    fuzz()


# --------------------------------------------------------------------------- random JSON bodies


class Raw(str):
    """A JSON token written as it is: NaN, Infinity, 1e999, a 5000-digit integer..."""


def encode(value: Any) -> str:
    """JSON text of ``value``; a lone surrogate in a string becomes its \\u escape."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


#: Tokens Python's own json module would never write, or JSON parsers disagree about.
ODD_TOKENS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0"]
ODD_TOKENS += ["9" * 5000, "1" + "0" * 400, "0.1e400", "123456789012345678901234567890"]
#: Lone surrogates, a pair, a pair the wrong way round, a NUL.
SURROGATES = ["\ud800", "\udfff", "a\udbffb", "\ud83d\ude00", "\ude00\ud83d", "\x00"]
#: Field names and values the routes know, so random bodies get past the first check.
KNOWN_KEYS = [
    *("nodes", "output", "dout", "id", "op", "inputs", "value", "params", "variant"),
    *("accumulate", "image", "graph", "model", "dataset", "mode", "scope", "iterations"),
    *("hidden_size", "batch_size", "learning_rate", "optimizer", "seed", "eps", "directions"),
]
KNOWN_VALUES = [*OPS, "mnist", "mnist-10k", "full", "fast", "all", "sgd", "sum", "overwrite"]

strings = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(SURROGATES),
    st.sampled_from(KNOWN_VALUES),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(ODD_TOKENS).map(Raw),
    strings,
)
bodies = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), strings), inner, max_size=6),
    ),
    max_leaves=40,
)


@pytest.fixture(scope="module")
def finished_run(fuzz_server: Server) -> str:
    """A completed run, so /runs/{id}/... routes get as far as reading the body."""
    config = {"iterations": 1, "hidden_size": 2, "batch_size": 2}
    deadline = time.monotonic() + 120
    # NOTE: runs the schema fuzz started may fill max_active_runs: they end within seconds.
    while (r := httpx.post(f"{fuzz_server.url}/train", json=config)).status_code == 429:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    assert r.status_code == 202, r.text
    run_id = str(r.json()["id"])
    assert stream(fuzz_server.url, run_id)[-1].data["status"] == "completed"
    return run_id


JSON_TYPE = {"content-type": "application/json"}
POST_PATHS = sorted(path for path, ops in raw_schema()["paths"].items() if "post" in ops)


@pytest.mark.parametrize("path", POST_PATHS)
def test_random_json_bodies_never_get_a_5xx(
    fuzz_server: Server, finished_run: str, path: str
) -> None:
    """Any JSON text at all (surrogates, NaN, huge numbers, deep nesting) gets a 2xx or a 4xx
    in the one error shape."""
    url = fuzz_server.url + path.replace("{run_id}", finished_run)

    @given(body=bodies)
    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def post(body: Any) -> None:
        text = encode(body)
        r = httpx.post(url, content=text.encode(), headers=JSON_TYPE, timeout=60)
        assert r.status_code < 500, f"{r.status_code} for {text[:300]!r}: {r.text[:300]}"
        if r.status_code >= 400:
            err = r.json()
            assert set(err) == {"error"}, r.text[:300]
            assert set(err["error"]) >= {"code", "message", "details"}, r.text[:300]
            assert isinstance(err["error"]["code"], str) and err["error"]["message"]

    post()
