"""API fuzz: schemathesis over the whole OpenAPI schema against a real server (no 5xx, conformant).

The event stream is excluded (it stays open while a run trains); training limits
are tiny so fuzzed runs finish at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

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
# (a server limit) or 422 (what JSON Schema cannot say: a graph's structure, an image's shape).
REJECTIONS = ["400", "404", "405", "409", "413", "422"]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REJECTIONS},
            "positive_data_acceptance": {"expected-statuses": ["2xx", *REJECTIONS]},
        }
    }
)


def load_schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI schema (built without starting the app), streams excluded."""
    from app.main import create_app
    from app.settings import Settings

    raw = create_app(Settings(**LIMITS)).openapi()  # type: ignore[arg-type]
    return schemathesis.openapi.from_dict(raw, config=CONFIG).exclude(path_regex=r".*/events$")


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
