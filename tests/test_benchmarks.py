"""The benchmarks the README names still run against today's app (at a size for a test).

They are measured by hand, not in the suite; this only keeps them from rotting when the app
changes under them (bench-service once stopped at a stream event it did not expect).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, Digits


def _bench(module: str, args: list[str], env: dict[str, str], codes: tuple[int, ...] = (0,)) -> str:
    """Run ``python -m benchmarks.<module>``; its output, after checking how it exited."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode in codes, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_bench_service_runs(digits: Digits) -> None:
    small = ["--iterations", "200", "--repeats", "1", "--subscribers", "3", "--fanout-pairs", "1"]
    out = _bench("bench_service", [*small, "--pings", "20", "--dataset", digits.name], digits.env)
    assert "3 subscribers x 1 runs: got every event" in out
    row = next(ln for ln in out.splitlines() if "got every event" in ln)
    assert row.split()[-4:] == ["3", "/", "3", "all"], row  # 3 of 3 streams had every event
    assert "ids 1..n and every loss" in out and "; True" in out, out
    assert "/healthz p50 / p99 / max, 2 runs training" in out


def test_bench_graph_runs() -> None:
    # it exits 1 when a speed target is missed, which a busy test machine may do: not a failure
    out = _bench("bench_graph", ["--requests", "5", "--seconds", "1"], {}, codes=(0, 1))
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln[:1].isalpha()}
    for preset in ("apples", "two_layer_net", "softmax_with_loss_primitives"):
        assert float(rows[preset][0]) > 0, out  # its median latency in ms
    assert "targets:" in out
