// The documented HTTP API (../shared/docs/api.md), and the one error shape it answers with.

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", `The server could not be reached (${err.message}).`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      e.code || "http_error",
      e.message || `${method} ${path} answered ${response.status}.`,
      e.details,
    );
  }
  return data;
}

/** A list from an answer that is either a list or an object holding one under `key`. */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && typeof data === "object") return Object.values(data).find(Array.isArray) || [];
  return [];
}

export const api = {
  ops: () => request("GET", "/graphs/ops"),
  presets: () => request("GET", "/graphs/presets"),
  evaluate: (graph) => request("POST", "/graphs/evaluate", graph),
  gradcheck: (body) => request("POST", "/gradcheck", body),
  datasets: () => request("GET", "/datasets"),
  limits: () => request("GET", "/limits"),
  train: (config) => request("POST", "/train", config),
  run: (id) => request("GET", `/train/${encodeURIComponent(id)}`),
  cancel: (id) => request("DELETE", `/train/${encodeURIComponent(id)}`),
  runs: () => request("GET", "/runs"),
  predict: (id, image) => request("POST", `/runs/${encodeURIComponent(id)}/predict`, { image }),
  weights: (id) => request("GET", `/runs/${encodeURIComponent(id)}/weights`),
  confusion: (id) => request("GET", `/runs/${encodeURIComponent(id)}/confusion`),
  misclassified: (id, limit) =>
    request("GET", `/runs/${encodeURIComponent(id)}/misclassified?limit=${limit}`),
  eventsUrl: (id) => `/train/${encodeURIComponent(id)}/events`,
  historyUrl: (id, format) => `/train/${encodeURIComponent(id)}/history.${format}`,
};
