"""The OpenAPI schema says what the server enforces: schemathesis with every contract check
(status codes, content types, response schemas and headers, schema-valid data accepted,
schema-invalid data refused), positive and negative examples, in-process and against a
real server. A mismatch of schema and server fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as contract

from tests.app.sse_client import stream
from tests.app.test_schema_fuzz import LIMITS
from tests.conftest import Digits, Server

#: Every limit of a field is 413 (api.md), like any other client error it is not a 5xx.
REFUSED = ["400", "403", "404", "405", "409", "413", "422", "429"]
#: A schema-valid request may still meet: an id that names no run (404), someone else's run
#: (403), a run in the wrong state (409), a full lab (429).
ACCEPTED = ["2xx", "403", "404", "409", "429"]
#: What JSON Schema cannot say, answered 422 (or 413 for a computed budget): a graph's
#: structure (each op's arity, ids that exist), an op's own variants, a run name's control
#: characters, a gradient check's work estimate, a range's order (lo < hi), a run's hidden
#: units together (max_total_hidden) and its layers events (iterations / layer_stats_every),
#: its train_size against the images its dataset holds (422 train_size_too_large).
SEMANTIC = {
    "POST /train": ["413", "422"],
    "POST /graphs/evaluate": ["422"],
    "POST /graphs/export/python": ["422"],
    "GET /graphs/ops/{name}/code": ["422"],
    "PATCH /train/{run_id}": ["422"],
    "POST /gradcheck": ["413", "422"],
    "POST /experiments/activations": ["422"],
}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
]
EXAMPLES = 10


def config(label: str) -> schemathesis.Config:
    """Every contract check on, with the statuses this operation may answer."""
    checks: dict[str, object] = {"enabled": False, **{c: {"enabled": True} for c in CHECKS}}
    checks["negative_data_rejection"] = {"enabled": True, "expected-statuses": REFUSED}
    checks["positive_data_acceptance"] = {
        "enabled": True,
        "expected-statuses": [*ACCEPTED, *SEMANTIC.get(label, [])],
    }
    return schemathesis.Config.from_dict({"checks": checks})


def small_settings(data_dir: Path) -> object:
    """The fuzz limits of test_schema_fuzz, for an in-process app."""
    from app.settings import Settings

    return Settings(data_dir=data_dir, **LIMITS)  # type: ignore[arg-type]


def operations(schema: schemathesis.BaseSchema) -> dict[str, object]:
    """The schema's operations by label, event streams excluded (they stay open)."""
    schema = schema.exclude(path_regex=r".*/events$")
    return {r.ok().label: r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)}


def labels() -> list[str]:
    """Every operation's label (from a schema built without starting the app)."""
    from tests.app.test_schema_fuzz import raw_schema

    return sorted(operations(schemathesis.openapi.from_dict(raw_schema())))


def run(
    schema: schemathesis.BaseSchema, label: str, run_id: str | None = None, **call: object
) -> None:
    """Positive and negative cases of one operation, each checked against the contract; with
    ``run_id``, half of them about that (real, finished) run."""
    operation = operations(schema)[label]
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]  # type: ignore[attr-defined]
    if run_id is not None and "{run_id}" in label:
        known = {"run_id": run_id}
        strategies += [
            operation.as_strategy(mode, path_parameters=known)  # type: ignore[attr-defined]
            for mode in GenerationMode
        ]
    cases = st.one_of(strategies)

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call_and_validate(**call)
        meta = case.meta
        positive = meta is not None and meta.generation.mode == GenerationMode.POSITIVE
        if positive and response.status_code == 422 and label == "POST /train":
            # The one thing about a schema-valid run the schema cannot say.
            assert response.json()["error"]["code"] == "train_size_too_large", response.text

    fuzz()


@pytest.fixture(scope="module")
def asgi_app(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[object]:
    """The app in-process (its lifespan run once around the module)."""
    import os

    from fastapi.testclient import TestClient

    from app.main import create_app

    old = dict(os.environ)
    os.environ.update(digits.env)
    app = create_app(small_settings(tmp_path_factory.mktemp("contract-asgi")))  # type: ignore[arg-type]
    with TestClient(app):
        yield app
    os.environ.clear()
    os.environ.update(old)


@pytest.mark.parametrize("label", labels())
def test_in_process_app_keeps_its_contract(asgi_app: object, label: str) -> None:
    run(schemathesis.openapi.from_asgi("/openapi.json", asgi_app, config=config(label)), label)


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A real server with the fuzz limits."""
    env = {f"BACKPROP_LAB_{k.upper()}": str(v) for k, v in LIMITS.items()}
    srv = Server(tmp_path_factory.mktemp("contract-data"), {**digits.env, **env})
    yield srv.start()
    srv.stop()


@pytest.fixture(scope="module")
def finished_run(contract_server: Server) -> str:
    """A completed run, so the run routes answer about a real one too."""
    config = {"iterations": 5, "hidden_size": 2, "batch_size": 2}
    r = httpx.post(f"{contract_server.url}/train", json=config)
    assert r.status_code == 202, r.text
    run_id = str(r.json()["id"])
    assert stream(contract_server.url, run_id)[-1].data["status"] == "completed"
    return run_id


@pytest.mark.parametrize("label", labels())
def test_real_server_keeps_its_contract(
    contract_server: Server, finished_run: str, label: str
) -> None:
    schema = schemathesis.openapi.from_url(
        contract_server.url + "/openapi.json", config=config(label)
    )
    run(schema, label, finished_run, base_url=contract_server.url, timeout=60)


# ------------------------------------------------- answers from outside the routes, as declared

APPLES = {
    "nodes": [
        {"id": "a", "op": "input", "value": 2},
        {"id": "b", "op": "input", "value": 3},
        {"id": "c", "op": "mul", "inputs": ["a", "b"]},
    ],
    "output": "c",
}


#: The checks of an answer against its operation's declared responses.
DECLARED = [
    contract.status_code_conformance,
    contract.content_type_conformance,
    contract.response_schema_conformance,
    contract.response_headers_conformance,
]


def test_middleware_answers_are_declared(tmp_path: Path) -> None:
    """The host check, the body-size and content-type checks and the rate limit answer with a
    status, body and headers the operation's schema declares."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, rate_limit="3/minute", max_body_bytes=2000))
    label = "POST /graphs/evaluate"
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config(label))
    operation = operations(schema)[label]
    seen = []
    with TestClient(app):
        for headers, body in [
            ({"Host": "evil.example"}, APPLES),  # 400 untrusted_host
            ({"Content-Type": "text/plain"}, APPLES),  # 400 not_json
            ({}, {**APPLES, "output": "c" * 3000}),  # 413 body_too_large
            ({}, APPLES),  # 200
            ({}, APPLES),
            ({}, APPLES),
            ({}, APPLES),  # 429 past 3 a minute, with Retry-After
        ]:
            case = operation.Case(body=body, headers=headers)
            response = case.call()
            case.validate_response(response, checks=DECLARED)
            seen.append((response.status_code, response.headers.get("retry-after")))
    assert [s for s, _ in seen[:4]] == [400, 400, 413, 200], seen
    assert seen[-1][0] == 429 and seen[-1][1] is not None and seen[-1][1][0].isdigit(), seen
