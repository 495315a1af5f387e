"""The step-through text of a node's backward step: its rule per input, with numbers.

The rules and the symbols they use come from the op table (``engine/graph/ops.py``), so a
new op with new port names explains itself.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np

from engine.graph.evaluate import Evaluation
from engine.graph.op_types import Array


@cache
def _symbols(names: tuple[str, ...]) -> re.Pattern[str]:
    """A pattern matching any of ``names`` as a whole word (``x`` in ``xᵀ``, not in ``exp``)."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z_])({alternatives})(?![A-Za-z_])")


def _number(v: Array, operand: bool = False) -> str:
    text = f"{float(v):.5g}"  # as the page writes numbers (5 significant digits)
    return f"({text})" if operand and text.startswith("-") else text


def explain(evaluation: Evaluation, node_id: str) -> dict[str, Any] | None:
    """The node's backward rule per input, with the actual numbers when all are scalars."""
    node = evaluation.graph.nodes[node_id]
    if not node.inputs:
        return None
    arrays = [evaluation.grads[node_id], evaluation.values[node_id]]
    arrays += [evaluation.values[s] for s in node.inputs]
    env = dict(zip(node.op.symbols, arrays, strict=True))
    scalar = all(v.ndim == 0 for v in env.values())
    terms = node.op.terms(env, node.params) if node.op.terms is not None else {}
    # NOTE: a term named in a rule (dropout's mask) gets its number in the text too.
    named = {k.split(" = ")[0]: np.asarray(v, dtype=float) for k, v in terms.items() if " = " in k}
    numbers_of = {**{k: v for k, v in named.items() if k.isidentifier() and v.ndim == 0}, **env}
    ports: list[dict[str, Any]] = []
    for port, (name, src, rule) in enumerate(
        zip(node.op.inputs, node.inputs, node.op.rules, strict=True)
    ):
        text = f"d{name} = {rule}"
        numbers = None
        # NOTE: labels are data: backprop sends them nothing the step should show, whether a
        # loss's label port reads them or the graph marks them (the primitive Softmax-with-Loss).
        label = port in node.op.label_ports or src in evaluation.graph.label_nodes
        if label:
            text = f"d{name}: none ({src} holds class labels, which get no gradient)"
        if scalar and not label:
            numbers = _symbols(tuple(numbers_of)).sub(
                lambda m: _number(numbers_of[m.group(1)], operand=True), rule
            )
            result = _number(evaluation.edge_grads[(node_id, port)])
            text += f" = {numbers}" + (f" = {result}" if result != numbers else "")
        ports.append(
            {
                "port": port,
                "input": name,
                "from": src,
                "rule": rule,
                "numbers": numbers,
                "text": text,
                "label": label,
            }
        )
    return {
        "rule": "; ".join(
            f"d{name} = {rule}" for name, rule in zip(node.op.inputs, node.op.rules, strict=True)
        ),
        "scalar": scalar,
        "values": {k: float(v) for k, v in env.items()} if scalar else None,
        "ports": ports,
        "text": "; ".join(p["text"] for p in ports),
        "terms": [{"name": k, "value": v} for k, v in terms.items()],
    }
