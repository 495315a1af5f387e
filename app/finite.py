"""The service's one NaN policy: in every JSON it writes, a non-finite number becomes null.

Response bodies with a model get this from pydantic; error bodies, the event log and the
details of engine errors get it from ``finite`` here.
"""

from __future__ import annotations

import math
from typing import Any

#: How the graph engine spells a non-finite number in an error's value previews.
_SPELLED = frozenset({"nan", "inf", "-inf"})


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists and tuples too) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def finite_preview(value: Any) -> Any:
    """A graph engine's value preview (a number, or ``{"shape", "first"}``) under the policy."""
    # NOTE: engine/graph spells non-finite numbers of its previews as strings ("-inf"); these
    # fields only ever hold numbers, so the strings are mapped to null here.
    if isinstance(value, str) and value in _SPELLED:
        return None
    if isinstance(value, dict) and "first" in value:
        return {**value, "first": [finite_preview(v) for v in value["first"]]}
    return finite(value)
