"""Every setting of the service, read from ``BACKPROP_LAB_*`` environment variables."""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.graph import Limits as GraphLimits
from engine.trainer import MAX_HIDDEN_LAYERS

#: The engine's own defaults for graphs: their one home (the settings below start from them).
_GRAPH = GraphLimits()
#: A setting named max_<something> is a limit: /limits reports it, the graph engine may use it.
LIMIT_PREFIX = "max_"


class Settings(BaseSettings):
    """Service settings; each field is ``BACKPROP_LAB_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BACKPROP_LAB_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("backprop-lab")),
        description="Directory for the SQLite database and saved weights.",
    )
    database_url: str | None = Field(
        None,
        description="Where runs and their event logs live: sqlite:///<file> (the default is "
        "backprop-lab.sqlite3 in the data directory) or postgresql://user:password@host/db, "
        "shared by every server and worker.",
    )
    executor: Literal["local", "celery"] = Field(
        "local",
        description="Who trains: 'local' worker processes of this server (one server), or "
        "'celery' workers anywhere (python -m app.worker) through the broker; 'celery' needs "
        "a PostgreSQL database_url.",
    )
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="The Celery broker (Redis) when executor=celery."
    )
    queue: str = Field(
        "backprop-lab", min_length=1, description="The Celery queue training runs go to."
    )
    long_run_cost: int = Field(
        200_000_000,
        ge=1,
        description="A run whose iterations × batch_size × hidden_size reaches this goes to the "
        "long queue (<queue>.long), the others to <queue>: a 30 h run never waits ahead of "
        "a 1 s one.",
    )
    worker_queues: str = Field(
        "short,long",
        pattern=r"^(short|long)(,(short|long))?$",
        description="Which queues a python -m app.worker takes runs from: short, long, or both.",
    )
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Training worker processes: of this server (local), or of each "
        "python -m app.worker (celery).",
    )
    heartbeat_interval: float = Field(
        1.0, gt=0, le=60, description="Seconds between a Celery worker's beats for its run."
    )
    heartbeat_timeout: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="Seconds without a beat after which a running run is marked interrupted "
        "(what it recorded is kept).",
    )
    run_attempts: int = Field(
        2,
        ge=1,
        le=10,
        description="Attempts of a run whose worker is lost (killed mid-run): it starts again "
        "from the beginning until then, and fails after.",
    )
    respawn_backoff: float = Field(
        5.0,
        ge=0,
        le=600,
        description="Seconds a local training worker that died must have lived before it is "
        "restarted; one that dies sooner is restarted once they have passed, never in a tight "
        "loop.",
    )
    max_body_bytes: int = Field(8_000_000, ge=1024, description="Largest request body accepted.")
    max_graph_nodes: int = Field(
        _GRAPH.max_graph_nodes, ge=1, description="Nodes per posted graph."
    )
    max_tensor_elements: int = Field(
        _GRAPH.max_tensor_elements, ge=1, description="Elements per tensor in a graph."
    )
    max_total_elements: int = Field(
        _GRAPH.max_total_elements,
        ge=1,
        description="Elements of all tensors of one graph evaluation together.",
    )
    max_response_elements: int = Field(
        _GRAPH.max_response_elements,
        ge=1,
        description="Numbers one graph evaluation's answer may carry (every node's and edge's "
        "value and gradient), counted from shapes before any work.",
    )
    max_iterations: int = Field(100_000, ge=1, description="Iterations per training run.")
    max_hidden_size: int = Field(2048, ge=1, description="Hidden units of a trained network.")
    max_batch_size: int = Field(10_000, ge=1, description="Batch size of a training run.")
    max_layers: int = Field(
        MAX_HIDDEN_LAYERS,
        ge=1,
        le=MAX_HIDDEN_LAYERS,
        description="Hidden layers of a trained network (at most the engine's 10).",
    )
    max_total_hidden: int = Field(
        4096, ge=1, description="Hidden units of a trained network, all its layers together."
    )
    max_layer_events: int = Field(
        1000,
        ge=1,
        description="`layers` events (per-layer statistics) one run may record: iterations / "
        "layer_stats_every may not exceed it.",
    )
    max_active_runs: int = Field(
        8, ge=1, description="Training runs queued and running at once, all users together."
    )
    # Who may change a run, and how much one client may take (README: "Who may change a run").
    admin_token: SecretStr | None = Field(
        None,
        description="The operator's token: as Authorization: Bearer <token> it renames, cancels "
        "and deletes any run (runs from before owners existed only with it). Unset: nobody can.",
    )
    max_active_runs_per_client: int = Field(
        2,
        ge=1,
        description="Training runs one client (its owner token, else its address) may have "
        "queued and running at once; past it 429 too_many_runs_for_you.",
    )
    rate_limit: str = Field(
        "60/minute",
        description="Requests one client may make to the expensive routes (POST /train, "
        "/gradcheck, /graphs/evaluate, export, predict, insights), in the limits library's "
        "notation ('30/minute', '5/second;100/hour'), a moving window; past it 429 rate_limited.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where the rate limit counts: memory:// (this process) or redis://host:port/db "
        "shared by every server.",
    )
    max_stored_bytes: int = Field(
        2_000_000_000,
        ge=1,
        description="Disk budget of all runs' event logs and weights together: a new run that "
        "would pass it first removes its client's oldest finished runs; else 507 storage_full.",
    )
    max_run_seconds: int = Field(
        7200,
        ge=1,
        description="Seconds a run may train; then it stops (cancelled, what it learned kept) "
        "with a message naming the limit.",
    )
    max_gradcheck_batch: int = Field(100, ge=1, description="Images in one gradient check.")
    max_gradcheck_params: int = Field(
        500_000,
        ge=1,
        description="Parameters (or graph input elements) a full, element-wise gradient check "
        "may perturb; larger checks must use mode 'fast'.",
    )
    max_gradcheck_work: int = Field(
        2_000_000_000,
        ge=1,
        description="Budget of a gradient check of a posted graph, from its shapes: for each "
        "checked node, its nudges times the numbers every node downstream of it reads and "
        "writes (at most about 10 s on one core); larger checks are refused before any work.",
    )
    max_gradcheck_seconds: int = Field(
        30,
        ge=1,
        description="Seconds one gradient check may run; a check still running then is stopped "
        "and answered 413 check_time_limit. A check whose client has gone is stopped at once.",
    )
    max_gradcheck_wait: int = Field(
        60,
        ge=0,
        description="Seconds a gradient check may wait for its turn, estimated from the checks "
        "ahead of it (clients take turns); a check that would wait longer is answered 429 "
        "with Retry-After before any work.",
    )
    gradcheck_workers: int = Field(
        1, ge=1, le=16, description="Processes that run gradient checks off the request path."
    )
    header_timeout: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Seconds a connection has to send a whole request head (a fresh one, or a "
        "kept-alive one that started its next request); then 408 and closed.",
    )
    body_timeout: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds a request's body has to arrive after its head; then 408 and "
        "closed, so a stalled upload holds no memory.",
    )
    max_buffered_bytes: int = Field(
        256_000_000,
        ge=1024,
        description="Bytes of requests in flight in one server process, all connections "
        "together; a request that would go over is answered 503 with Retry-After.",
    )
    max_connections_per_client: int = Field(
        256,
        ge=1,
        description="Connections open at once from one client address (a classroom behind one "
        "NAT address shares it); one more is answered 503 and closed.",
    )
    insight_wait: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Seconds a run's insight request (confusion, misclassified, weights, "
        "predict) waits for the one slot such work has per server process; past it, 503 busy "
        "with Retry-After.",
    )
    graph_processes: int = Field(
        2,
        ge=1,
        le=16,
        description="Processes per server process that parse, evaluate and export graph bodies "
        "over 128 KB, so a large body never holds the server's event loop.",
    )
    graph_wait: float = Field(
        60.0,
        ge=0,
        le=600,
        description="Seconds a graph body over 128 KB waits for a graph process (holding only "
        "its bytes); past it, 503 busy with Retry-After.",
    )
    max_graph_seconds: int = Field(
        30,
        ge=1,
        description="Seconds a graph process may take for one body; past it the process is "
        "killed and the request answered 413 evaluation_time_limit.",
    )
    worker_nice: int = Field(
        5,
        ge=0,
        le=19,
        description="Niceness added to training workers and graph processes, so the server's own "
        "requests win the CPU over them when cores are scarce.",
    )
    max_subscribers_per_run: int = Field(
        200, ge=1, description="Event streams open on one training run at once."
    )
    max_streams_per_client: int = Field(
        10,
        ge=1,
        description="Event streams one client (one address) may hold open on one run at once; "
        "past it 429 with Retry-After.",
    )
    progress_interval: float = Field(
        0.25,
        gt=0,
        le=60,
        description="Seconds between progress events of a run (each carries every loss since "
        "the previous one); also the longest a recorded metric waits before it is written.",
    )
    sse_ping_interval: float = Field(
        15.0,
        gt=0,
        le=300,
        description="Seconds of silence after which an event stream sends a ping.",
    )
    download_datasets: bool = Field(
        True,
        description="Download a dataset that is not on this machine from its public mirrors "
        "(verified) when a run or check first uses it; off, or with BACKPROP_LAB_OFFLINE=1, "
        "such a request gets 409.",
    )
    preload_datasets: str = Field(
        "mnist",
        description="Comma-separated datasets each training worker loads when it starts, so the "
        "first run does not wait for them (only those available here).",
    )
    default_dataset: str | None = Field(
        None,
        description="The dataset of a run that names none, the lab's one default. Unset: "
        "'mnist' with executor=celery (workers and servers refuse to start without it), else "
        "MNIST if here or fetchable and the offline mnist-10k otherwise (one server).",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines of servers and workers: 'text' (ISO 8601 UTC time, level, "
        "logger, run and worker, message) or 'json' (one JSON object per line, same fields).",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port on which a Celery worker (python -m app.worker) serves its Prometheus "
        "metrics at /metrics (all its processes together); unset: none. Servers serve "
        "GET /metrics on their own port.",
    )
    allowed_hosts: str = Field(
        "localhost,127.0.0.1,[::1]",
        description="Comma-separated host names a request may address (its Host header), "
        "besides the address the server is bound to; '*.example.org' allows subdomains and '*' "
        "any host. Others get 400 untrusted_host: a defence against DNS rebinding.",
    )

    def allowed_host_names(self) -> list[str]:
        """The host names of ``allowed_hosts``, trimmed, lower case."""
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as e:
            raise ValueError(
                f"BACKPROP_LAB_RATE_LIMIT must be like '60/minute' or '5/second;100/hour', "
                f"not {value!r}"
            ) from e
        return value

    def database(self) -> str:
        """The database URL in use (the SQLite file in the data directory by default)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'backprop-lab.sqlite3'}"

    def lab_dataset(self) -> str | None:
        """The lab's fixed default dataset (None: each server picks the best it has)."""
        return self.default_dataset or ("mnist" if self.executor == "celery" else None)

    def limits(self) -> dict[str, int]:
        """Every limit of this server by name: each ``max_*`` setting and the fixed ones."""
        mine = {n: getattr(self, n) for n in type(self).model_fields if n.startswith(LIMIT_PREFIX)}
        return {**mine, **FIXED_LIMITS}

    def graph_limits(self) -> GraphLimits:
        """The graph engine's limits under these settings (the one builder of them)."""
        limits = self.limits()
        return GraphLimits(**{f.name: limits[f.name] for f in fields(GraphLimits)})


#: The graph engine's limits that no setting changes (e.g. max_tensor_dims), at their values.
FIXED_LIMITS: dict[str, int] = {
    f.name: getattr(_GRAPH, f.name)
    for f in fields(GraphLimits)
    if f.name not in Settings.model_fields
}


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
