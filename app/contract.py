"""The OpenAPI schema says what the server enforces: every status an operation can answer
(with the one error shape), the headers of a 429 or 503, and this server's request limits.

Some answers come from outside the routes (the host check, the body-size limit, the rate
limit, the connection guards of ``app.serve``, the database handler); FastAPI cannot see
them, so they are added here to every operation they apply to.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from app.quotas import expensive
from app.schemas_graphs import GRAPH_SCHEMA
from app.schemas_service import LIMITED_FIELDS
from app.settings import Settings
from engine.experiments import ACTIVATION_LIMITS, FUNCTIONS, RACE_LIMITS
from engine.optimizers import OPTIMIZERS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

#: Why each status may come, whatever the route: its description in the schema.
WHY = {
    400: "Malformed request: a body that is not JSON (`malformed_json`, `not_json`), a lone "
    "surrogate (`invalid_unicode`), a host name this server does not answer to "
    "(`untrusted_host`), or a value the route cannot read.",
    403: "The run belongs to another client (`not_owner`).",
    404: "No such run, op or resource.",
    408: "The request head or body did not arrive in time (`request_timeout`); the connection "
    "is closed.",
    409: "Valid, but the state of things forbids it now.",
    410: "The run was removed to free space (`run_removed`).",
    413: "Over a limit of this server: the body's size (`body_too_large`), its number of "
    "values, or a field's maximum (`limit_exceeded`).",
    422: "Well-formed but invalid content, or a missing or unknown field.",
    429: "Too many requests from this client, or a full lab; `Retry-After` says when to retry.",
    503: "The server is busy (`server_busy`) or a part it needs does not answer "
    "(`database_unavailable`, `unavailable`); `Retry-After`, when present, says when to retry.",
    507: "The runs' disk budget is used up (`storage_full`).",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """Every error status ``method path`` can answer, whatever its route declares."""
    # NOTE: any request can meet the host check (400), the connection guards (408, 503
    # server_busy) and the body-size limit (413, a body may come with any method).
    found = {400, 408, 413, 503}
    if "requestBody" in operation or operation.get("parameters"):
        found.add(422)
    if "{run_id}" in path:
        found.add(404)
        if not (method == "delete" and path.startswith("/runs/")):
            found.add(410)
    if expensive(method.upper(), path.replace("{run_id}", "x").replace("{name}", "x")):
        found.add(429)
    return found


def _error_entry(status: int, entry: dict[str, Any] | None) -> dict[str, Any]:
    entry = dict(entry or {})
    entry.setdefault("description", WHY.get(status, "An error in the one error shape."))
    entry["content"] = {"application/json": {"schema": ERROR_REF}}
    if status in (429, 503):
        entry["headers"] = {**entry.get("headers", {}), **RETRY_AFTER}
    return entry


def declare_errors(schema: dict[str, Any]) -> None:
    """Add every error status an operation can answer, each with the one error shape."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            for status in statuses(path, method, operation) | {
                int(s) for s in responses if s.isdigit() and int(s) >= 400
            }:
                responses[str(status)] = _error_entry(status, responses.get(str(status)))


TENSOR_REF = "#/components/schemas/Tensor"
#: A number, or a nested list of numbers (any depth, no empty list; rectangular, which the
#: routes check).
TENSOR = {
    "description": "A number or a rectangular nested list of numbers (a tensor).",
    "anyOf": [{"type": "number"}, {"type": "array", "minItems": 1, "items": {"$ref": TENSOR_REF}}],
}

#: Constraints the routes check by hand (413 or 422), as JSON Schema: (model, field) -> keywords.
CHECKED: dict[tuple[str, str], dict[str, Any]] = {
    **{("ActivationsRequest", k): {"maximum": v} for k, v in ACTIVATION_LIMITS.items()},
    **{("RaceRequest", k): {"maximum": v} for k, v in RACE_LIMITS.items()},
    ("RaceRequest", "function"): {"enum": list(FUNCTIONS)},
    ("RaceRequest", "optimizers"): {"propertyNames": {"enum": list(OPTIMIZERS)}},
    ("RaceRequest", "start"): {"items": {"type": "number", "minimum": -1000, "maximum": 1000}},
    ("ActivationsRequest", "range"): {"items": {"type": "number", "minimum": -1e6, "maximum": 1e6}},
    ("RunRename", "name"): {"minLength": 1},
    ("PredictRequest", "image"): {
        "minItems": 28,
        "maxItems": 28,
        "items": {
            "type": "array",
            "minItems": 28,
            "maxItems": 28,
            "items": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
}


#: Pydantic's names for bounds that reach the schema as they are (a constrained item of a list
#: of ``Whole``), and JSON Schema's.
_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def standard_keywords(node: Any) -> None:
    """Rename pydantic's ``ge``/``le``/``gt``/``lt`` left in a typed schema to JSON Schema's."""
    if isinstance(node, dict):
        if "type" in node:
            for ours, theirs in _KEYWORDS.items():
                if isinstance(node.get(ours), int | float) and not isinstance(node[ours], bool):
                    node[theirs] = node.pop(ours)
        for value in node.values():
            standard_keywords(value)
    elif isinstance(node, list):
        for value in node:
            standard_keywords(value)


def declare_limits(schema: dict[str, Any], settings: Settings) -> None:
    """A capped field whose default is over this server's limit is required here; a graph
    has at most ``max_graph_nodes`` nodes."""
    components = schema.get("components", {}).get("schemas", {})
    for (model, field), name in LIMITED_FIELDS.items():
        spec = components.get(model, {})
        prop = spec.get("properties", {}).get(field)
        default = prop.get("default") if prop is not None else None
        if isinstance(default, int | float) and default > getattr(settings, name):
            # NOTE: the default would be refused (413), so a request must name a value.
            del prop["default"]
            prop["description"] += f" Required here: the default {default} is over the limit."
            spec["required"] = sorted({*spec.get("required", []), field})
    if "required" in components.get("ModelSpec", {}):
        # NOTE: the default model is then over the limit too: a check names a model or a graph.
        components.get("GradcheckRequest", {})["anyOf"] = [
            {"required": ["model"], "properties": {"model": {"type": "object"}}},
            {"required": ["graph"], "properties": {"graph": {"type": "object"}}},
        ]
    for (model, field), keywords in CHECKED.items():
        prop = components.get(model, {}).get("properties", {}).get(field)
        if prop is not None:
            prop.update(keywords)
    for option in (
        components.get("TrainRequest", {}).get("properties", {}).get("layers", {}).get("anyOf", [])
    ):
        if option.get("type") == "array":
            # NOTE: each hidden layer is capped like hidden_size (their sum by max_total_hidden).
            option["items"]["maximum"] = settings.max_hidden_size
    components["Tensor"] = TENSOR
    check = components.get("GradcheckRequest", {}).get("properties", {})
    if "graph" in check:
        check["graph"] = {
            "anyOf": [copy.deepcopy(GRAPH_SCHEMA), {"type": "null"}],
            "description": check["graph"].get("description", ""),
        }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            # NOTE: a copy: a route's hand-written schema is shared (by two routes, two apps).
            body = content["application/json"]["schema"] = copy.deepcopy(
                content["application/json"].get("schema", {})
            )
            if body.get("title") == GRAPH_SCHEMA["title"]:
                bound_graph(body, settings)
    for graph in check.get("graph", {}).get("anyOf", [])[:1]:
        bound_graph(graph, settings)


def bound_graph(graph: dict[str, Any], settings: Settings) -> None:
    """A posted graph's schema with this server's node limit and tensors of numbers only."""
    props = graph["properties"]
    props["nodes"]["maxItems"] = settings.max_graph_nodes
    value = props["nodes"]["items"]["properties"]["value"]
    value.pop("anyOf", None)
    value["$ref"] = TENSOR_REF
    props["dout"]["anyOf"] = [{"$ref": TENSOR_REF}, {"type": "null"}]


def document_contract(app: FastAPI, settings: Settings) -> None:
    """Make the app's OpenAPI schema declare every status and limit the server enforces."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        standard_keywords(schema)
        declare_errors(schema)
        declare_limits(schema, settings)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
