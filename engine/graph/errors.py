"""The graph engine's errors: one base with a stable code, one subclass per kind.

The engine says *what* went wrong by type; the web layer decides the HTTP status
(``app/routers/graphs.py``): a :class:`GraphTooLarge` is over a limit of the server,
any other :class:`GraphError` is a graph that cannot be evaluated as given. Their
messages name a JSON value the client sent with :func:`describe`.
"""

from __future__ import annotations

from typing import Any


class GraphError(ValueError):
    """A graph that cannot be evaluated; ``code`` is stable, ``details`` name the culprit."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt with its code and details when it crosses a process boundary.
        return (type(self), (self.code, self.message, self.details))


class GraphTooLarge(GraphError):
    """A graph, tensor or answer over one of the server's limits (``details`` name the limit)."""


def describe(value: Any) -> str:
    """A JSON value named for a message: null, the boolean true, the string 'ab', a list."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "…"
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"
