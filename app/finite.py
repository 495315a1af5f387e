"""The service's one NaN policy: in every JSON it writes, a non-finite number becomes null.

Response bodies with a model get this from pydantic; error bodies, the event log and the
details of engine errors get it from ``finite`` here.
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists and tuples too) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
