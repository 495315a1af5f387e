// @ts-check
// The text of one step of the step-through. Backward: the engine's own rule per input, as
// POST /graphs/evaluate explains it (`nodes[id].local.ports[].text`), plus the gradients the
// edges carry where the engine wrote no numbers (tensors). Forward: the op's formula from
// GET /graphs/ops with the node's inputs and values written in.

import { t } from "./i18n.js";
import { compact, flatten, isScalar, short } from "./tensor.js";

/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./graph-model.js").EditNode} EditNode */

/**
 * A number for a formula: the first element, in parentheses when negative.
 * @param {Tensor} value
 */
function num(value) {
  const s = short(flatten(value)[0]);
  return s.startsWith("-") ? `(${s})` : s;
}

/** @param {string} name */
function escape(name) {
  return name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * `text` with each whole-word name that `table` has replaced by what it maps to.
 * @param {string} text
 * @param {Record<string, string>} table
 */
function substitute(text, table) {
  const names = Object.keys(table).sort((a, b) => b.length - a.length);
  if (!names.length) return text;
  const re = new RegExp(`(?<![A-Za-z0-9_])(${names.map(escape).join("|")})(?![A-Za-z0-9_])`, "g");
  return text.replace(re, (m) => table[m]);
}

/**
 * Whether an op's port names would read as other nodes' names in its rules: a port named like
 * a node of the graph that does not feed it ("dy = dout · x" when node x feeds port y).
 * @param {import("./api.js").LocalPort[]} ports
 * @param {Evaluation} result
 */
export function portsClash(ports, result) {
  return ports.some((p) => p.input in result.nodes && p.from !== p.input);
}

/**
 * One port's rule for the page: the engine's ("dy = dout · x") when port names are safe to
 * read; else in node names only ("∂L/∂x = dout · w"), so no port reads as another node.
 * `rest` is what the engine wrote after the rule (" = 1 · 3 = 3" for scalars, or "").
 * @param {import("./api.js").LocalPort} p
 * @param {import("./api.js").LocalPort[]} ports every port of the node
 * @param {boolean} clash
 * @returns {{lhs: string, rule: string, rest: string}}
 */
export function portRule(p, ports, clash) {
  const head = `d${p.input} = ${p.rule}`;
  const rest = p.text.startsWith(head) ? p.text.slice(head.length) : "";
  if (!clash) return { lhs: `d${p.input}`, rule: p.rule, rest };
  const table = Object.fromEntries(ports.map((q) => [q.input, q.from]));
  return { lhs: `∂L/∂${p.from}`, rule: substitute(p.rule, table), rest };
}

/**
 * A forward step: "apple_price = apple · apple_num = 100 · 2 = 200".
 * @param {EditNode} node
 * @param {Op | undefined} meta undefined for an op this server does not know
 * @param {Evaluation} result
 * @returns {string[]}
 */
export function forwardLines(node, meta, result) {
  const out = result.nodes[node.id].value;
  if (node.op === "input") return [`${node.id} = ${compact(out)}`];
  const srcs = /** @type {string[]} */ (node.inputs.filter(Boolean));
  const ports = srcs.map((_, k) => meta?.inputs[k] ?? `in${k}`);
  const formula = meta ? meta.formula : `${node.op}(${ports.join(", ")})`;
  const values = srcs.map((src) => result.nodes[src].value);
  let line = `${node.id} = ${substitute(formula, Object.fromEntries(ports.map((p, k) => [p, srcs[k]])))}`;
  if (srcs.length && values.every(isScalar)) {
    line += ` = ${substitute(formula, Object.fromEntries(ports.map((p, k) => [p, num(values[k])])))}`;
  }
  return [`${line} = ${compact(out)}`];
}

/**
 * A backward step. An operation: the engine's rule for each input ("dx = dout · y = 1.1 · 2 =
 * 2.2   (x = apple)"), then each small tensor gradient it sends, written out. An input: the
 * gradient it received, as the sum of what each use sent back when it has several.
 * @param {EditNode} node
 * @param {Evaluation} result
 * @returns {string[]}
 */
export function backwardLines(node, result) {
  const { local, grad: maybe, differentiable } = result.nodes[node.id];
  if (differentiable === false || maybe === null) return [t("graph.labelsNoGrad", { id: node.id })];
  const grad = maybe;
  if (!local) {
    // Edges from a node that is not labels all carry a gradient.
    const uses = result.edges.filter((e) => e.from === node.id).map((e) => /** @type {Tensor} */ (e.grad));
    if (uses.length > 1 && result.accumulate === "overwrite") {
      // In the order the backward pass sent them: each one replaced the one before.
      const order = result.backward_order;
      const sent = result.edges.filter((e) => e.from === node.id)
        .sort((a, b) => order.indexOf(a.to) - order.indexOf(b.to) || a.port - b.port)
        .map((e) => /** @type {Tensor} */ (e.grad))
        .map((g) => (isScalar(g) ? num(g) : compact(g)));
      return [`∂L/∂${node.id} = ${compact(grad)}   ${t("graph.overwritten", { uses: sent.join(", ") })}`];
    }
    if (uses.length > 1) {
      return [`∂L/∂${node.id} = ${uses.map((g) => (isScalar(g) ? num(g) : compact(g))).join(" + ")} = ${compact(grad)}`];
    }
    return [`∂L/∂${node.id} = dout = ${compact(grad)}`];
  }
  // Labels are data: the step shows them among the terms, never a gradient for them.
  const ports = local.ports.filter((p) => !p.label);
  const terms = (local.terms || []).map((x) => `${x.name} = ${compact(x.value)}`);
  // Always say which node feeds which port: "dx = dout · y = 1.1 · 2 = 2.2   (x = apple, y = apple_num)";
  // when a port is named like another node, the rule is written in node names alone.
  const clash = portsClash(local.ports, result);
  const feeds = ports.map((p) => `${p.input} = ${p.from}`).join(", ");
  const rules = ports.map((p) => {
    if (!clash) return `${p.text}   (${feeds})`;
    const { lhs, rule, rest } = portRule(p, local.ports, true);
    return `${lhs} = ${rule}${rest}`;
  });
  const tensors = ports.flatMap((p) => {
    const edge = result.edges.find((e) => e.to === node.id && e.port === p.port);
    if (!edge || edge.grad === null || p.numbers !== null || compact(edge.grad) === short(edge.grad)) return [];
    return [`∂L/∂${p.from} = ${compact(edge.grad)}`];
  });
  return [...terms, ...rules, ...tensors];
}
