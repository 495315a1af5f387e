"""JSON to tensors: a number or a rectangular nested list of finite numbers, within limits.

Every check names the field and the index at fault (``nodes.3.value[1][0]``), so a
client sees which number of which node is wrong.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.graph.errors import GraphError, GraphTooLarge, describe
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.op_types import Array, Shape
from engine.graph.op_types import format_shape as _fmt


def _index(path: list[int]) -> str:
    return "".join(f"[{i}]" for i in path)


def to_tensor(value: Any, *, who: str, field: str, limits: Limits = DEFAULT_LIMITS) -> Array:
    """A float64 array from a JSON number or rectangular nested list, or a GraphError."""
    kind = type(value)
    if kind is float or kind is int:
        try:
            arr = np.array(value, dtype=np.float64)
        except OverflowError:
            raise GraphError(
                "non_finite_value",
                f"The value of {who} is too large for a double: {value}.",
                {"field": field},
            ) from None
        return _finite(arr, who=who, field=field)
    if kind is not list:
        raise GraphError(
            "non_numeric_value",
            f"The value of {who} must be a number or a nested list of numbers, "
            f"not {describe(value)}.",
            {"field": field},
        )
    shape: list[int] = []
    probe: Any = value
    while type(probe) is list:
        if not probe:
            raise GraphError(
                "empty_tensor",
                f"The value of {who} has an empty list at {field}{_index([0] * len(shape))}; "
                "tensors need at least one element along every axis.",
                {"field": field},
            )
        shape.append(len(probe))
        if len(shape) > limits.max_tensor_dims:
            raise GraphTooLarge(
                "limit_exceeded",
                f"The value of {who} is nested more than {limits.max_tensor_dims} lists deep; "
                f"the limit is {limits.max_tensor_dims} dimensions.",
                {"field": field, "limit": limits.max_tensor_dims, "name": "max_tensor_dims"},
            )
        probe = probe[0]
    size = math.prod(shape)
    if size > limits.max_tensor_elements:
        raise GraphTooLarge(
            "limit_exceeded",
            f"The value of {who} has {size:,} elements (shape {_fmt(tuple(shape))}); "
            f"the limit per tensor is {limits.max_tensor_elements:,}.",
            {"field": field, "limit": limits.max_tensor_elements, "name": "max_tensor_elements"},
        )
    _check_nested(value, tuple(shape), [], who=who, field=field)
    try:
        arr = np.array(value, dtype=np.float64)
    except OverflowError:
        raise GraphError(
            "non_finite_value",
            f"The value of {who} holds a number too large for a double.",
            {"field": field},
        ) from None
    return _finite(arr, who=who, field=field)


_NUMBER = {int, float}


def _check_nested(value: list[Any], shape: Shape, path: list[int], *, who: str, field: str) -> None:
    depth = len(path)
    if len(value) != shape[depth]:
        raise GraphError(
            "ragged_tensor",
            f"The value of {who} is ragged: {field}{_index(path)} has {len(value)} elements "
            f"where {shape[depth]} were expected (shape {_fmt(shape)} from the first elements).",
            {"field": field, "index": path},
        )
    if depth == len(shape) - 1:
        if set(map(type, value)) <= _NUMBER:
            return
        for i, item in enumerate(value):
            if type(item) not in _NUMBER:
                code = "ragged_tensor" if isinstance(item, list) else "non_numeric_value"
                what = "a list where a number was expected" if isinstance(item, list) else None
                raise GraphError(
                    code,
                    f"The value of {who} has {what or describe(item)} at "
                    f"{field}{_index([*path, i])}; only numbers are allowed.",
                    {"field": field, "index": [*path, i]},
                )
        return
    for i, item in enumerate(value):
        if type(item) is not list:
            raise GraphError(
                "ragged_tensor",
                f"The value of {who} is ragged: {field}{_index([*path, i])} is "
                f"{describe(item)} where a list of {shape[depth + 1]} was expected.",
                {"field": field, "index": [*path, i]},
            )
        _check_nested(item, shape, [*path, i], who=who, field=field)


def _finite(arr: Array, *, who: str, field: str) -> Array:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = [int(i) for i in np.argwhere(bad)[0]]
        raise GraphError(
            "non_finite_value",
            f"The value of {who} is not finite ({arr[tuple(where)]}) at {field}{_index(where)}; "
            "only finite numbers are allowed.",
            {"field": field, "index": where},
        )
    arr.setflags(write=False)
    return arr
