"""The cost of the ``layers`` statistics: training with them at the default rate vs without.

Run with ``make bench-layer-stats`` (or ``python -m benchmarks.bench_layer_stats``). The
chapter's run (784-50-10, batch 100, SGD, float32, the fused step), a 5x100 ReLU
MultiLayerNet (its fused step) and the same with BatchNorm (the layer objects), each
timed with ``layer_stats_every`` at its default and at 0 (off), alternately, 3 repeats,
best of each; the overhead is their ratio, and the time spent inside the statistics
is measured in the runs with them (on a busy machine the more trustworthy figure).
Target: at most 10 % at the default rate.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from engine import TrainConfig, Trainer
from engine.data import load_dataset

DEFAULT = TrainConfig().layer_stats_every


def timed(data: Any, every: int, **config: Any) -> tuple[float, int, float]:
    """Seconds to train (setup excluded), layers events, and seconds spent in the statistics."""
    cfg = TrainConfig(layer_stats_every=every, eval_every_epoch=False, seed=0, **config)
    trainer = Trainer(cfg, data)
    inner = trainer.layer_stats
    spent = 0.0

    def measured(*args: Any) -> Any:
        nonlocal spent
        t0 = time.perf_counter()
        out = inner(*args)
        spent += time.perf_counter() - t0
        return out

    trainer.layer_stats = measured  # type: ignore[method-assign]
    start = time.perf_counter()
    count = sum(1 for e in trainer.run() if e.kind == "layers")
    return time.perf_counter() - start, count, spent


def main() -> None:
    """Print each network's time with and without the statistics, and the overhead."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = load_dataset("mnist")
    nets = {
        "TwoLayerNet 784-50-10 (fused step)": {},
        "MultiLayerNet 5x100 ReLU/He (fused step)": {"layers": (100,) * 5, "init": "he"},
        "MultiLayerNetExtend 5x100 + BatchNorm (layer objects)": {
            "layers": (100,) * 5,
            "init": "he",
            "batch_norm": True,
        },
    }
    print(f"{args.iterations} iterations, batch 100, best of {args.repeat}; stats every {DEFAULT}")
    for name, extra in nets.items():
        on: list[float] = []
        off: list[float] = []
        events, inside = 0, []
        for _ in range(args.repeat):  # alternate, so drifts in the machine's speed hit both
            t, events, spent = timed(data, DEFAULT, iterations=args.iterations, **extra)
            on.append(t)
            inside.append(spent / t)
            off.append(timed(data, 0, iterations=args.iterations, **extra)[0])
        ratio = min(on) / min(off)
        print(
            f"{name}: stats off {min(off):.3f} s, on {min(on):.3f} s ({events} events): "
            f"overhead {100 * (ratio - 1):+.1f} %; time inside the statistics "
            f"{100 * min(inside):.2f} % of the run (target <= 10 %)"
        )


if __name__ == "__main__":
    main()
