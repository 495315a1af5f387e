"""The limits of a shared server on graphs, passed in by the caller (the app reads settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Limits of a shared server, passed in by the caller (the app reads them from settings).

    ``max_response_elements`` bounds what an answer carries: every node's value and
    gradient and every edge's value and gradient, counted from shapes before any work.
    """

    max_graph_nodes: int = 500
    max_tensor_elements: int = 1_000_000
    max_total_elements: int = 5_000_000
    max_tensor_dims: int = 32
    max_response_elements: int = 5_000_000

    def public(self) -> dict[str, int]:
        """The limits as JSON."""
        return {
            "max_graph_nodes": self.max_graph_nodes,
            "max_tensor_elements": self.max_tensor_elements,
            "max_total_elements": self.max_total_elements,
            "max_tensor_dims": self.max_tensor_dims,
            "max_response_elements": self.max_response_elements,
        }


DEFAULT_LIMITS = Limits()
