// @ts-check
// The chapter-6 experiments run on MNIST (the book's ch06 scripts), as sets of POST /train
// bodies: each page's runs, their settings (the book's numbers), and its predict-then-reveal
// question. Text lives in the catalogues under ch6.<page>.*.

/** @typedef {import("./api.js").TrainConfig & Record<string, unknown>} Body a POST /train body */

/**
 * One run of a set: its body, and how it is drawn (a dash pattern and a marker, not colour alone).
 * @typedef {object} RunSpec
 * @property {string} key stable name (the legend's, the tests')
 * @property {string} label as the book's legend writes it
 * @property {Body} body
 */

/**
 * One question asked before the answer is shown.
 * @typedef {object} Question
 * @property {string[]} options keys of ch6.<page>.q.<option>
 * @property {string} answer the right option
 */

/**
 * A page: its runs, built from the page's inputs, and its question.
 * @typedef {object} Experiment
 * @property {string} key
 * @property {"loss" | "gap" | "layers"} chart
 * @property {{name: string, value: number, min: number, max: number}} count the page's own
 *   length field: iterations, or epochs (overfitting: 3 iterations each)
 * @property {(count: number, switches: Record<string, boolean>) => RunSpec[]} runs
 * @property {string[]} [switches] checkboxes of the page (overfitting)
 * @property {Question} question
 */

/** weight_init_compare.py, optimizer_compare_mnist.py: a "5-layer" net, 4 hidden layers of 100. */
const COMPARE_HIDDEN = [100, 100, 100, 100];
/** The overfitting scripts' MultiLayerNet: 6 hidden layers of 100. */
const OVERFIT_HIDDEN = [100, 100, 100, 100, 100, 100];
/** The planted vanishing gradient: 5 hidden layers of 100, as weight_init_activation_histogram.py. */
const VANISHING_HIDDEN = [100, 100, 100, 100, 100];
/** Training images of the overfitting scripts (x_train[:300]), batch 100: 3 iterations an epoch. */
export const OVERFIT_TRAIN_SIZE = 300;
export const OVERFIT_BATCH = 100;

/**
 * A MNIST run as the book's comparisons train it: SGD lr 0.01, batch 128, the same seed.
 * @param {number} iterations
 * @param {Body} body
 * @returns {Body}
 */
function comparison(iterations, body) {
  return {
    layers: COMPARE_HIDDEN, activation: "relu", init: "he", optimizer: "sgd", learning_rate: 0.01,
    batch_size: 128, iterations, seed: 0, ...body,
  };
}

/** @type {Experiment[]} */
export const EXPERIMENTS = [
  {
    key: "init",
    chart: "loss",
    count: { name: "iterations", value: 2000, min: 1, max: 100000 },
    runs: (n) => [
      { key: "std", label: "std=0.01", body: comparison(n, { init: "std", weight_init_std: 0.01 }) },
      { key: "xavier", label: "Xavier", body: comparison(n, { init: "xavier" }) },
      { key: "he", label: "He", body: comparison(n, { init: "he" }) },
    ],
    question: { options: ["std", "xavier", "he"], answer: "std" },
  },
  {
    key: "optim",
    chart: "loss",
    count: { name: "iterations", value: 2000, min: 1, max: 100000 },
    runs: (n) => [
      { key: "sgd", label: "SGD", body: comparison(n, { optimizer: "sgd", learning_rate: 0.01 }) },
      { key: "momentum", label: "Momentum", body: comparison(n, { optimizer: "momentum", learning_rate: 0.01 }) },
      { key: "adagrad", label: "AdaGrad", body: comparison(n, { optimizer: "adagrad", learning_rate: 0.01 }) },
      { key: "adam", label: "Adam", body: comparison(n, { optimizer: "adam", learning_rate: 0.001 }) },
    ],
    question: { options: ["sgd", "momentum", "adagrad", "adam"], answer: "sgd" },
  },
  {
    key: "overfit",
    chart: "gap",
    count: { name: "epochs", value: 201, min: 1, max: 5000 },
    switches: ["weight_decay", "dropout"],
    runs: (epochs, on) => {
      const decay = on.weight_decay ? 0.1 : 0;
      const dropout = on.dropout ? 0.2 : 0;
      const parts = [decay ? "λ=0.1" : "", dropout ? "dropout 0.2" : ""].filter(Boolean);
      return [{
        key: `overfit${decay ? "-decay" : ""}${dropout ? "-dropout" : ""}`,
        label: parts.length ? parts.join(" + ") : "—",
        body: {
          layers: OVERFIT_HIDDEN, activation: "relu", init: "he", optimizer: "sgd", learning_rate: 0.01,
          batch_size: OVERFIT_BATCH, train_size: OVERFIT_TRAIN_SIZE,
          iterations: epochs * (OVERFIT_TRAIN_SIZE / OVERFIT_BATCH),
          weight_decay: decay, dropout, seed: 0, layer_stats_every: 0,
        },
      }];
    },
    question: { options: ["train", "test", "both"], answer: "train" },
  },
  {
    key: "vanishing",
    chart: "layers",
    count: { name: "iterations", value: 500, min: 1, max: 100000 },
    runs: (n) => [
      { key: "sigmoid", label: "sigmoid, std 1", body: {
        layers: VANISHING_HIDDEN, activation: "sigmoid", init: "std", weight_init_std: 1, optimizer: "sgd",
        learning_rate: 0.01, batch_size: 128, iterations: n, seed: 0, layer_stats_every: statsEvery(n),
      } },
      { key: "relu", label: "ReLU, He", body: {
        layers: VANISHING_HIDDEN, activation: "relu", init: "he", optimizer: "sgd",
        learning_rate: 0.01, batch_size: 128, iterations: n, seed: 0, layer_stats_every: statsEvery(n),
      } },
    ],
    question: { options: ["first", "middle", "last"], answer: "first" },
  },
];

/**
 * Iterations between two `layers` events of a vanishing-gradient run: every 50, fewer on a
 * long run (the server records at most max_layer_events, 1,000 by default).
 * @param {number} n iterations
 */
function statsEvery(n) {
  return Math.max(1, Math.min(n, Math.max(50, Math.ceil(n / 1000))));
}

/** Dash patterns of the runs of a set, in order (uPlot's `dash`), and their markers. */
export const DASHES = [[], [10, 5], [2, 4], [12, 4, 2, 4]];
export const MARKERS = ["●", "■", "▲", "◆"];

/**
 * The experiment called `key`, or the first.
 * @param {string | null} key
 */
export function experiment(key) {
  return EXPERIMENTS.find((e) => e.key === key) ?? EXPERIMENTS[0];
}
