"""Beyond one machine, measured: Celery workers, two API servers, PostgreSQL and Redis on loopback.

    python -m benchmarks.bench_scale            (make bench-scale)

1. Throughput: 16 runs of 2,000 iterations on 1 worker node, then on 2 (target ≥ 1.7x).
2. One run through Celery + PostgreSQL against the local executor + SQLite (target ≤ 1.05).
3. Event latency from a worker's write to an SSE client on the other server (target p99 < 50 ms).
4. 200 SSE subscribers spread over two servers on one run: every event reaches every one.
5. The same latency with 30 learners streaming at once: 30 runs written to together, each
   streamed by its own client on the other server (target p99 < 50 ms).
6. What one default run (POST /train with no settings) stores in PostgreSQL, and its share of
   a pg_dump, for sizing backups.
7. A worker's write of one progress event (250 losses, one transaction with its NOTIFY), the
   cost a run pays every progress interval, timed through the store.

Every figure is measured twice by default (``--postgres fast,defaults``): with the tests'
throwaway PostgreSQL (fsync, synchronous commit and full-page writes off) and with
PostgreSQL at its defaults, as a deployment runs it. The load average is printed beside
each figure: on a busy machine (load above the cores) the figures say little.

Every part is a real process started here (PostgreSQL 15, redis-server, uvicorn, python -m
app.worker); the ratios compare runs measured in this same process, on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._server import ONE_CLIENT, serve
from benchmarks.bench_service import fan_out, parse_stream
from harness.cluster import ROOT, Postgres, Redis, Worker

RUN = {"iterations": 2000, "hidden_size": 50, "batch_size": 100, "learning_rate": 0.1}


def bar(done: int, total: int, what: str, started: float) -> None:
    """A one-line progress bar in the terminal."""
    width = 30
    filled = int(width * done / total)
    line = f"\r  {what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
    sys.stderr.write(line + f"{time.monotonic() - started:5.1f} s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def wait_done(url: str, ids: list[str], what: str) -> float:
    """Wait until every run is finished; the time the last one finished (its ``finished_at``)."""
    started = time.monotonic()
    left = set(ids)
    shown = -1
    finished: dict[str, float] = {}
    while left:
        runs = httpx.get(f"{url}/runs", params={"limit": 1000}, timeout=30).json()["runs"]
        by_id = {r["id"]: r for r in runs}
        failed = [i for i in ids if by_id[i]["status"] in ("failed", "cancelled", "interrupted")]
        if failed:
            raise RuntimeError(f"runs did not complete: {failed}")
        finished.update(
            {i: by_id[i]["finished_at"] for i in ids if by_id[i]["status"] == "completed"}
        )
        left = set(ids) - set(finished)
        if len(left) != shown:
            shown = len(left)
            bar(len(ids) - len(left), len(ids), what, started)
        if left:
            # NOTE: the finish times come from the log, so polling less often adds no error,
            # and leaves the cores to the workers being measured.
            time.sleep(1.0)
    return max(finished.values())


def post(url: str, config: dict[str, Any]) -> str:
    """POST /train; the run id."""
    r = httpx.post(f"{url}/train", json=config, timeout=30)
    r.raise_for_status()
    return str(r.json()["id"])


def run_to_end(url: str, config: dict[str, Any]) -> float:
    """Wall seconds from POST /train to the done event on the stream."""
    t0 = time.perf_counter()
    run_id = post(url, config)
    with httpx.stream("GET", f"{url}/train/{run_id}/events", timeout=300) as r:
        for line in r.iter_lines():
            if line.startswith("event: done"):
                break
    return time.perf_counter() - t0


class Cluster:
    """PostgreSQL, Redis, API servers and worker nodes, stopped when the block ends."""

    def __init__(self, stack: ExitStack, root: Path, fsync: bool) -> None:
        self.stack, self.root = stack, root
        self.pg = Postgres(fsync=fsync).start()
        stack.callback(self.pg.remove)
        self.redis = Redis().start()
        stack.callback(self.redis.remove)
        self.count = 0

    def env(self, queue: str) -> dict[str, str]:
        """Settings of a server or worker of this cluster on a fresh database."""
        self.count += 1
        return {
            "BACKPROP_LAB_DATABASE_URL": self.pg.create_database(f"bench_{self.count}"),
            "BACKPROP_LAB_BROKER_URL": self.redis.url,
            "BACKPROP_LAB_EXECUTOR": "celery",
            "BACKPROP_LAB_QUEUE": queue,
            "BACKPROP_LAB_MAX_ACTIVE_RUNS": "100",
            "BACKPROP_LAB_MAX_SUBSCRIBERS_PER_RUN": "200",
            **ONE_CLIENT,
        }

    def server(self, env: dict[str, str]) -> str:
        """Start an API server; its URL."""
        url, _ = self.stack.enter_context(serve(env, log=True))
        return str(url)

    def worker(self, env: dict[str, str], concurrency: int = 1) -> Worker:
        """Start a worker node."""
        log = self.root / f"worker-{time.monotonic_ns()}.log"
        worker = Worker({**env, "BACKPROP_LAB_DATA_DIR": str(self.root)}, log, concurrency)
        worker.start(timeout=120)
        self.stack.callback(worker.stop)
        return worker


@contextmanager
def cluster(fsync: bool) -> Iterator[Cluster]:
    """A cluster in a temporary directory (PostgreSQL at its defaults when ``fsync``)."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        yield Cluster(stack, Path(tmp), fsync)


def load() -> str:
    """This machine's load average (1, 5, 15 minutes), to print beside a figure."""
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def throughput(c: Cluster, nodes: int, runs: int) -> float:
    """Runs per second of ``runs`` runs of 2,000 iterations on ``nodes`` worker nodes."""
    env = c.env(f"throughput-{nodes}")
    url = c.server(env)
    workers = [c.worker(env) for _ in range(nodes)]
    t0 = time.time()  # the same clock as the runs' finished_at: this machine's
    ids = [post(url, {**RUN, "seed": i}) for i in range(runs)]
    elapsed = wait_done(url, ids, f"{runs} runs on {nodes} worker{'s' if nodes > 1 else ''}") - t0
    for w in workers:
        w.stop()
    return runs / elapsed


def writers(env: dict[str, str], run_ids: list[str], events: int, interval: float, n: int) -> Any:
    """``n`` writer processes, as workers are, sharing the runs: each claims its runs, then
    every ``interval`` s appends one stamped progress event to each (one transaction each)."""
    procs = []
    for k in range(n):
        mine = ",".join(run_ids[k::n])
        args = [env["BACKPROP_LAB_DATABASE_URL"], mine, str(events), str(interval)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, *args], cwd=ROOT, env={**os.environ, **env}
            )
        )
    return procs


async def arrivals(url: str, run_id: str, client: httpx.AsyncClient) -> list[float]:
    """Milliseconds from each progress event's stamp to its arrival here, until ``done``."""
    arrived: list[float] = []
    async with client.stream("GET", f"{url}/train/{run_id}/events") as r:
        fields: dict[str, str] = {}
        async for line in r.aiter_lines():
            if line == "":
                if fields.get("event") == "progress":
                    sent = json.loads(fields["data"])["sent_at"]
                    arrived.append((time.time() - sent) * 1000)
                if fields.get("event") == "done":
                    break
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return arrived


def latency(
    c: Cluster, events: int, interval: float, learners: int = 1, n_writers: int = 1
) -> list[float]:
    """Milliseconds from a worker's write of an event to its arrival on the other server,
    over ``learners`` runs written to at once, each streamed by its own client."""
    env = c.env(f"latency-{learners}")
    a, b = c.server(env), c.server(env)
    run_ids = [post(a, {**RUN, "iterations": 100, "seed": i}) for i in range(learners)]

    async def read_all() -> list[list[float]]:
        limits = httpx.Limits(max_connections=learners + 5)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            return await asyncio.gather(*(arrivals(b, r, client) for r in run_ids))

    procs = writers(env, run_ids, events, interval, n_writers)
    got = asyncio.run(read_all())
    for p in procs:
        p.wait(60)
    short = [len(g) for g in got if len(g) != events]
    if short:
        raise RuntimeError(f"runs received {short} of {events} events")
    return [ms for g in got for ms in g]


_WRITER = """
import sys, time
from app.training.store import RunStore
from app.training.records import NewEvent
from app.training import events
url, run_ids = sys.argv[1], sys.argv[2].split(",")
n, interval = int(sys.argv[3]), float(sys.argv[4])
store = RunStore(url)
attempts = {}
for run_id in run_ids:
    run = store.get_run(run_id)
    while run.status == "queued" and store.claim(
        run_id, "bench-writer", seen=(run.attempt, run.heartbeat_at), max_attempts=2
    ).attempt is None:
        run = store.get_run(run_id)
    attempts[run_id] = store.get_run(run_id).attempt
time.sleep(1.0)  # the readers are connected
for i in range(1, n + 1):
    for run_id in run_ids:
        data = {"iteration": i, "loss": 1.0, "first_iteration": i, "losses": [1.0],
                "sent_at": time.time()}
        store.append([NewEvent(run_id, "progress", data, attempt=attempts[run_id])])
    time.sleep(interval)
for run_id in run_ids:
    store.append([NewEvent(run_id, "done", events.done("cancelled"), attempt=attempts[run_id])])
"""


def fan_out_two(c: Cluster, subscribers: int) -> tuple[int, int, int]:
    """(subscribers with every event, subscribers, events) of one run over two servers."""
    env = c.env("fan-out")
    a, b = c.server(env), c.server(env)
    c.worker(env)
    run_id = post(a, {**RUN, "iterations": 10_000})

    async def both() -> list[bytes]:
        half = subscribers // 2
        got = await asyncio.gather(fan_out(a, run_id, half), fan_out(b, run_id, subscribers - half))
        return got[0] + got[1]

    raw = asyncio.run(both())
    expected = [e["id"] for e in parse_stream(raw[0])]
    full = sum(1 for r in raw if [e["id"] for e in parse_stream(r)] == expected)
    if expected != list(range(1, len(expected) + 1)):
        raise RuntimeError("the first subscriber's ids are not consecutive")
    return full, len(raw), len(expected)


def local_vs_celery(c: Cluster, repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds of the same run on the local executor + SQLite and on Celery + PostgreSQL."""
    env = c.env("same-run")
    url = c.server(env)
    c.worker(env)
    config = {**RUN, "iterations": 10_000, "seed": 0}
    local_times, celery_times = [], []
    with serve({"BACKPROP_LAB_WORKERS": "1", **ONE_CLIENT}, log=True) as (local_url, _):
        run_to_end(local_url, {**config, "iterations": 200})  # warm both: datasets loaded
        run_to_end(url, {**config, "iterations": 200})
        for i in range(repeats):
            # NOTE: interleaved, so a slow minute of this machine hits both alike.
            local_times.append(run_to_end(local_url, config))
            celery_times.append(run_to_end(url, config))
            print(
                f"  round {i + 1}: local + SQLite {local_times[-1]:.2f} s, "
                f"Celery + PostgreSQL {celery_times[-1]:.2f} s",
                flush=True,
            )
    return local_times, celery_times


def main() -> None:
    """Measure and print the four figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs in the throughput test")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of local vs Celery")
    parser.add_argument("--events", type=int, default=500, help="events in the latency test")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--learners", type=int, default=30, help="streams in part 5")
    parser.add_argument("--learner-events", type=int, default=40, help="events per run, part 5")
    parser.add_argument("--parts", default="1234567", help="which measurements to make, e.g. 24")
    parser.add_argument(
        "--postgres",
        default="fast,defaults",
        help="PostgreSQL configurations, in order: fast (fsync off, as the tests), defaults",
    )
    args = parser.parse_args()
    if not os.environ.get("MNIST_DIR"):
        shared = ROOT.parent / "shared" / "data" / "mnist"
        if shared.is_dir():
            os.environ["MNIST_DIR"] = str(shared)
    print(f"digits: MNIST_DIR={os.environ.get('MNIST_DIR', '(cache or offline subset)')}")
    print(f"cores: {os.cpu_count()}")
    print(f"start: {load()}")
    everything: dict[str, Any] = {}
    for mode in args.postgres.split(","):
        if mode not in ("fast", "defaults"):
            parser.error(f"--postgres: 'fast' or 'defaults', not {mode!r}")
        title = "at its defaults (fsync on)" if mode == "defaults" else "fsync off"
        print(f"== PostgreSQL {title}")
        results: dict[str, Any] = {}
        everything[mode] = results
        with cluster(fsync=mode == "defaults") as c:
            parts = {
                "1": measure_throughput,
                "2": measure_same_run,
                "3": measure_latency,
                "4": measure_fan_out,
                "5": measure_learners,
                "6": measure_storage,
                "7": measure_writes,
            }
            for part, measure in parts.items():
                if part in args.parts:
                    measure(c, args, results)
                    results.setdefault("load", {})[part] = os.getloadavg()[0]
                    print(f"   ({load()})", flush=True)
    out = ROOT / "build" / "bench-scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(everything, indent=2))
    print(f"figures written to {out.relative_to(ROOT)}")


_TRAINING = """
import json, sys, time
from threadpoolctl import threadpool_limits
from engine.data import load_dataset
from engine.trainer import TrainConfig, Trainer
runs, config = int(sys.argv[1]), json.loads(sys.argv[2])
data = load_dataset("mnist", download=False, progress=False)
with threadpool_limits(limits=1):
    t0 = time.perf_counter()
    for seed in range(runs):
        for _ in Trainer(TrainConfig(**config, seed=seed, eval_threads=1), data).run():
            pass
print(time.perf_counter() - t0)
"""


def ceiling(runs: int, processes: int) -> float:
    """Runs per second of the engine alone (no server, database or broker): ``processes``
    processes at once, each training ``runs / processes`` of the throughput test's runs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _TRAINING, str(runs // processes), json.dumps(RUN)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    seconds = [float(p.communicate()[0]) for p in procs]
    return (runs // processes) * processes / max(seconds)


def measure_throughput(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """1. Runs per second on one worker node, then on two; and the same runs trained by the
    engine alone in one process, then in two at once: the most two cores give here."""
    print(f"1. throughput: {args.runs} runs of 2,000 iterations")
    one = throughput(c, 1, args.runs)
    two = throughput(c, 2, args.runs)
    alone_one, alone_two = ceiling(args.runs, 1), ceiling(args.runs, 2)
    results["throughput"] = {
        "one": one,
        "two": two,
        "ratio": two / one,
        "engine_one": alone_one,
        "engine_two": alone_two,
        "engine_ratio": alone_two / alone_one,
    }
    print(f"   1 worker {one:.3f} runs/s, 2 workers {two:.3f} runs/s: {two / one:.2f}x")
    print(
        f"   the engine alone (no service): 1 process {alone_one:.3f} runs/s, "
        f"2 at once {alone_two:.3f} runs/s: {alone_two / alone_one:.2f}x, this machine's ceiling"
    )


def measure_same_run(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """2. The same run on both executors."""
    print("2. one run of 10,000 iterations: local + SQLite against Celery + PostgreSQL")
    local_t, celery_t = local_vs_celery(c, args.repeats)
    ratio = statistics.median(celery_t) / statistics.median(local_t)
    results["same_run"] = {"local": local_t, "celery": celery_t, "ratio": ratio}
    print(
        f"   medians: local {statistics.median(local_t):.2f} s, "
        f"Celery {statistics.median(celery_t):.2f} s: ratio {ratio:.3f}"
    )


def measure_latency(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """3. A worker's write to an SSE client on the other server."""
    print("3. event latency, worker write to an SSE client on the other server")
    ms = sorted(latency(c, args.events, 0.02))
    p50, p99 = ms[len(ms) // 2], ms[int(len(ms) * 0.99) - 1]
    results["latency_ms"] = {"p50": p50, "p99": p99, "max": ms[-1], "events": len(ms)}
    print(f"   {len(ms)} events: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")


def measure_fan_out(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """4. Many subscribers over two servers."""
    print(f"4. {args.subscribers} SSE subscribers over two servers on one run")
    full, total, n = fan_out_two(c, args.subscribers)
    results["fan_out"] = {"complete": full, "subscribers": total, "events": n}
    print(f"   {full} of {total} subscribers received all {n} events")


def measure_learners(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """5. The latency with many learners streaming at once."""
    n = args.learners
    print(f"5. event latency with {n} learners streaming at once (2 writers, 4 events/s a run)")
    ms = sorted(latency(c, args.learner_events, 0.25, learners=n, n_writers=2))
    p50, p99 = ms[len(ms) // 2], ms[int(len(ms) * 0.99) - 1]
    results["learners_latency_ms"] = {"p50": p50, "p99": p99, "max": ms[-1], "events": len(ms)}
    print(f"   {len(ms)} events: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")


_SIZES = """
SELECT (SELECT count(*) FROM events WHERE run_id = %(id)s),
       (SELECT sum(pg_column_size(e.*)) FROM events e WHERE run_id = %(id)s),
       (SELECT pg_column_size(w.npz) FROM weights w WHERE run_id = %(id)s),
       (SELECT pg_column_size(r.*) FROM runs r WHERE id = %(id)s),
       pg_total_relation_size('events') + pg_total_relation_size('weights')
         + pg_total_relation_size('runs')
"""


def measure_storage(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """6. One default run's rows and weights in PostgreSQL, and the dump of them."""
    import psycopg

    print("6. storage of one default run (10,000 iterations, hidden 50) in PostgreSQL")
    env = c.env("storage")
    url = c.server(env)
    c.worker(env)
    db = env["BACKPROP_LAB_DATABASE_URL"]
    with psycopg.connect(db) as conn:
        empty = conn.execute(_SIZES, {"id": ""}).fetchone()
    run_to_end(url, {})
    run_id = httpx.get(f"{url}/runs", timeout=30).json()["runs"][0]["id"]
    with psycopg.connect(db) as conn:
        events, event_bytes, weights, run_row, tables = conn.execute(
            _SIZES, {"id": run_id}
        ).fetchone()
    dump = c.root / "one-run.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", db], check=True)
    sizes = {
        "events": events,
        "event_bytes": event_bytes,
        "weights_bytes": weights,
        "run_row_bytes": run_row,
        "tables_growth_bytes": tables - (empty[4] if empty else 0),
        "dump_bytes": dump.stat().st_size,
    }
    results["storage"] = sizes
    print(
        f"   {events} events ({event_bytes / 1e3:.0f} kB), weights {weights / 1e3:.0f} kB, "
        f"run row {run_row} B; tables grew {sizes['tables_growth_bytes'] / 1e3:.0f} kB; "
        f"pg_dump --format=custom: {sizes['dump_bytes'] / 1e3:.0f} kB"
    )


_APPENDS = """
import statistics, sys, time
from app.training.store import RunStore
from app.training.records import NewEvent
url, run_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = RunStore(url)
run = store.get_run(run_id)
store.claim(run_id, "bench-writer", seen=(run.attempt, run.heartbeat_at), max_attempts=2)
attempt = store.get_run(run_id).attempt
times, cpu = [], []
for i in range(n):
    data = {"iteration": 250 * i, "loss": 1.0, "first_iteration": 250 * i - 249,
            "losses": [1.0 + j / 1000 for j in range(250)]}
    t0, c0 = time.perf_counter(), time.thread_time()
    store.append([NewEvent(run_id, "progress", data, attempt=attempt)], batch=i + 1)
    times.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.thread_time() - c0) * 1000)
times.sort()
print(statistics.median(times), times[int(len(times) * 0.99) - 1], statistics.median(cpu))
"""


def measure_writes(c: Cluster, args: Any, results: dict[str, Any]) -> None:
    """7. One progress event's write, as a worker makes it."""
    print("7. a worker's write of one progress event (250 losses), 400 writes")
    env = c.env("writes")
    url = c.server(env)
    run_id = post(url, {**RUN, "seed": 0})
    out = subprocess.run(
        [sys.executable, "-c", _APPENDS, env["BACKPROP_LAB_DATABASE_URL"], run_id, "400"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    median, p99, cpu = float(out[0]), float(out[1]), float(out[2])
    results["progress_write_ms"] = {"median": median, "p99": p99, "cpu_median": cpu}
    print(
        f"   wall median {median:.2f} ms, p99 {p99:.2f} ms (on the run's writer thread); "
        f"CPU {cpu:.2f} ms, {cpu / 250 * 100:.2f}% of a core at one write per 0.25 s"
    )


if __name__ == "__main__":
    main()
