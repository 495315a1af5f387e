// The local rule of a node for the step-through, written with the node's actual numbers.
// Built from the ops table (formula, backward rules); the server's own text wins if it sends one.

import { t } from "./i18n.js";
import { compact, isScalar, short } from "./tensor.js";

/** An op's one-line doc in the interface language (the API's English text otherwise). */
export function opDoc(meta) {
  if (!meta) return "";
  const key = `op.${meta.name}.doc`;
  const local = t(key);
  return local === key ? meta.doc || "" : local;
}

const SYMBOLS = {
  input: "x", add: "+", mul: "×", dot: "dot", exp: "exp", log: "log", reciprocal: "1/x",
  sum: "Σ", relu: "ReLU", sigmoid: "σ", affine: "Affine", softmax: "softmax",
  cross_entropy: "CE", softmax_with_loss: "Softmax-with-Loss",
};

export function symbolFor(op, meta) {
  if (meta && typeof meta.symbol === "string" && meta.symbol) return meta.symbol;
  return SYMBOLS[String(op)] ?? String(op);
}

function portNames(meta, count) {
  const names = meta && Array.isArray(meta.inputs) ? meta.inputs : [];
  return Array.from({ length: count }, (_, k) => names[k] ?? `in${k}`);
}

function escape(name) {
  return name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replace whole-word names in `text` by what `table` maps them to. */
function substitute(text, table) {
  const names = Object.keys(table).sort((a, b) => b.length - a.length);
  if (!names.length) return text;
  const re = new RegExp(`(?<![A-Za-z0-9_])(${names.map(escape).join("|")})(?![A-Za-z0-9_])`, "g");
  return text.replace(re, (m) => table[m]);
}

function num(value) {
  const s = short(Array.isArray(value) ? value.flat(Infinity)[0] : value);
  return s.startsWith("-") ? `(${s})` : s;
}

/** Forward rule lines: "apple_price = apple · apple_num = 100 · 2 = 200". */
export function forwardRule(node, ctx) {
  const { ins, out, meta } = ctx;
  if (node.op === "input") return [`${node.id} = ${compact(out)}`];
  const formula = meta && meta.formula ? meta.formula : `${node.op}(${portNames(meta, ins.length).join(", ")})`;
  const ports = portNames(meta, ins.length);
  const byName = Object.fromEntries(ports.map((p, k) => [p, ins[k].id]));
  const byValue = Object.fromEntries(ports.map((p, k) => [p, num(ins[k].value)]));
  let line = `${node.id} = ${substitute(formula, byName)}`;
  if (ins.every((i) => isScalar(i.value)) && ins.length) line += ` = ${substitute(formula, byValue)}`;
  return [`${line} = ${compact(out)}`];
}

/** Backward rule lines, one per input: "∂L/∂apple = dout · apple_num = 1.1 · 2 = 2.2". */
export function backwardRule(node, ctx) {
  const { ins, out, dout, grads, meta, usesGrads } = ctx;
  if (node.op === "input") {
    if (usesGrads.length > 1) {
      return [`∂L/∂${node.id} = ${usesGrads.map((g) => (isScalar(g) ? num(g) : compact(g))).join(" + ")} = ${compact(dout)}`];
    }
    return [`∂L/∂${node.id} = dout = ${compact(dout)}`];
  }
  const ports = portNames(meta, ins.length);
  const rules = meta && meta.backward && typeof meta.backward === "object" ? meta.backward : {};
  const lines = [`dout = ${short(dout)}`];
  const scalars = ins.every((i) => isScalar(i.value)) && isScalar(dout) && isScalar(out);
  ins.forEach((input, k) => {
    const rule = rules[`d${ports[k]}`] ?? (Array.isArray(meta && meta.grad_rules) ? meta.grad_rules[k] : null);
    let line = `∂L/∂${input.id}`;
    if (rule) {
      const names = { ...Object.fromEntries(ports.map((p, j) => [p, ins[j].id])) };
      line += ` = ${substitute(rule, names)}`;
      if (scalars) {
        const values = { dout: num(dout), out: num(out), ...Object.fromEntries(ports.map((p, j) => [p, num(ins[j].value)])) };
        const numeric = substitute(rule, values);
        const plain = numeric.replace(/[()]/g, "");
        if (numeric !== rule && /\d/.test(numeric) && plain !== short(grads[k])) line += ` = ${numeric}`;
      }
    }
    lines.push(`${line} = ${compact(grads[k])}`);
  });
  return lines;
}

/** The server's own backward rule for a node (evaluate's `local.ports[].text`), as lines; else null. */
export function serverRule(result, id, phase) {
  const node = result && result.nodes ? result.nodes[id] : null;
  if (!node || phase !== "backward" || !node.local) return null;
  const ports = Array.isArray(node.local.ports) ? node.local.ports : [];
  const lines = ports
    .filter((p) => typeof p.text === "string" && p.text)
    .map((p) => (p.from && p.input && p.from !== p.input ? `${p.text}   (${p.input} = ${p.from})` : p.text));
  if (lines.length) return lines;
  return typeof node.local.text === "string" && node.local.text ? [node.local.text] : null;
}
