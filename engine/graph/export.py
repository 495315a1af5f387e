"""Export a graph as a standalone Python script that needs only NumPy.

The script writes out the classes its nodes run, generated from the engine's own
source (type hints dropped, as the book writes them), builds the graph with them,
runs forward in topological order and backward in reverse, and prints every node's
value and gradient; ``--json`` prints ``{"values": ..., "grads": ...}`` instead.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

import numpy as np

from engine.graph.ops import INPUT
from engine.graph.parse import Graph
from engine.graph.steps import OneInput

_HEADER = '''\
#!/usr/bin/env python3
"""{title}: a computation graph exported from Backprop Lab.

Needs only NumPy. The classes below are Backprop Lab's own, as in chapter 5 of
Deep Learning from Scratch: each has forward() and backward(dout).

    python {filename}          prints each node's value and its gradient dL/d(node)
    python {filename} --json   prints {{"values": {{id: value}}, "grads": {{id: dL/d(node)}}}}

Class labels get no gradient: their dL/d(node) is None (null in JSON), never 0.
"""

import json
import sys

import numpy as np
'''

_FOOTER = """\


def main():
    value, grad = forward_backward()
    if "--json" in sys.argv[1:]:
        print(json.dumps({
            "values": {n: np.asarray(v).tolist() for n, v in value.items()},
            "grads": {n: None if g is None else np.asarray(g).tolist() for n, g in grad.items()},
        }))
        return
    for n in value:
        print(f"{n} = {value[n]}")
        if grad[n] is None:
            print(f"dL/d{n}: none ({n} holds class labels, which get no gradient)")
        else:
            print(f"dL/d{n} = {grad[n]}")


if __name__ == "__main__":
    main()
"""


class _DropAnnotations(ast.NodeTransformer):
    """Remove type hints: the script reads as the book's code, and needs no typing names."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.Assign | None:
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def class_source(obj: Any) -> str:
    """The source of an engine class or function as the script writes it (no type hints)."""
    return _source(obj)[0]


def _source(obj: Any) -> tuple[str, set[str]]:
    """``obj``'s source without type hints, and the global names it reads."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    tree = ast.fix_missing_locations(_DropAnnotations().visit(tree))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return ast.unparse(tree), names


def engine_sources(objects: Iterable[Any]) -> list[str]:
    """The source of each class or function, and of everything of the engine it uses,
    each once, every definition before its first use."""
    done: dict[Any, str] = {}
    visiting: set[Any] = set()

    def visit(obj: Any) -> None:
        if obj in done or obj in visiting:
            return
        visiting.add(obj)
        text, names = _source(obj)
        module = sys.modules[obj.__module__]
        for name in sorted(names):
            target = module.__dict__.get(name)
            if (inspect.isclass(target) or inspect.isfunction(target)) and getattr(
                target, "__module__", ""
            ).startswith("engine."):
                visit(target)
        visiting.discard(obj)
        done[obj] = text

    for obj in objects:
        visit(obj)
    return list(done.values())


def _literal(a: Any) -> str:
    """A NumPy array as a literal that reads back exactly."""
    return f"np.array({json.dumps(np.asarray(a, dtype=np.float64).tolist())})"


def _constructor(step: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """How to build this node's step in the script, and the classes that takes."""
    cls = type(step)
    if isinstance(step, OneInput):
        layer = type(step.layer)
        return f"{cls.__name__}({layer.__name__}())", [cls, layer]
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    if "layer" in parameters:
        return f"{cls.__name__}({params!r}, {step.cls.__name__})", [cls, step.cls]
    return (f"{cls.__name__}({params!r})" if parameters else f"{cls.__name__}()"), [cls]


def to_python(graph: Graph, title: str = "graph", filename: str = "graph.py") -> str:
    """The graph as a standalone script: layer classes, forward, backward, printing."""
    classes: list[Any] = []
    lines = ["", "", "def forward_backward():"]
    lines.append('    """Run the graph forward, then backward from its output; (values, grads)."""')
    lines += ["    value = {}", "    layer = {}"]
    for n in graph.forward_order:
        node = graph.nodes[n]
        key = json.dumps(n, ensure_ascii=False)
        if node.op is INPUT:
            lines.append(f"    value[{key}] = {_literal(node.params['value'])}")
            continue
        params = {k: v for k, v in node.params.items() if k != "value"}
        text, used = _constructor(node.op.make(node.params), params)
        classes += used
        args = ", ".join(f"value[{json.dumps(s, ensure_ascii=False)}]" for s in node.inputs)
        if node.op.variant:
            lines.append(f"    # broken layer ({node.op.variant}): {node.op.variant_doc}")
        lines.append(f"    layer[{key}] = {text}")
        lines.append(f"    value[{key}] = np.asarray(layer[{key}].forward({args}), dtype=float)")
    overwrite = graph.accumulate == "overwrite"
    out = json.dumps(graph.output, ensure_ascii=False)
    lines += ["", f"    grad = {{{out}: {_literal(graph.dout)}}}"]
    if overwrite:
        lines.append("    # accumulate 'overwrite': a reused value keeps only its last gradient")
    for n in graph.backward_order:
        node = graph.nodes[n]
        if not node.inputs:
            continue
        key = json.dumps(n, ensure_ascii=False)
        lines.append(f"    d = layer[{key}].backward(grad[{key}])")
        for port, src in enumerate(node.inputs):
            skey = json.dumps(src, ensure_ascii=False)
            if src in graph.label_nodes:
                lines.append(f"    grad[{skey}] = None  # class labels: data, no gradient")
            elif overwrite:
                lines.append(f"    grad[{skey}] = np.asarray(d[{port}], dtype=float)")
            else:
                lines.append(
                    f"    grad[{skey}] = grad.get({skey}, 0) + np.asarray(d[{port}], dtype=float)"
                )
    for n in sorted(graph.label_nodes):  # off the output's path too: no gradient, not 0
        skey = json.dumps(n, ensure_ascii=False)
        lines.append(f"    grad[{skey}] = None  # class labels: data, no gradient")
    lines.append("    for n, v in value.items():  # nodes the output does not depend on")
    lines.append("        grad.setdefault(n, np.zeros(np.shape(v)))")
    lines.append("    return value, {n: grad[n] for n in value}")
    header = _HEADER.format(title=title, filename=filename)
    body = "\n\n\n".join(engine_sources(dict.fromkeys(classes)))
    return header + "\n\n" + body + "\n" + "\n".join(lines) + "\n" + _FOOTER
