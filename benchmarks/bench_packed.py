"""Compact model files: write and load times and sizes of a random 784-2048-2048-2048-10 BNN
(10⁷ binary weights, the BNN paper's MNIST MLP shape) as bit-packed .npz against JSON.

    python benchmarks/bench_packed.py [--widths 2048,2048,2048] [--quick]

Prints a Markdown table: format, file size, save seconds, load seconds (median of 3), the
loaded model's resident memory growth.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bdd4bnn.formats import load_model, save_model
from bdd4bnn.model import BNN


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="2048,2048,2048")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    widths = [64, 64] if args.quick else [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(0)
    sizes = [784, *widths]
    blocks = [
        {
            "weight": rng.choice(np.array([-1, 1], dtype=np.int8), (b, a)),
            "bias": rng.normal(size=b),
            "bn": {
                "gamma": rng.normal(size=b),
                "beta": rng.normal(size=b),
                "mean": rng.normal(size=b),
                "var": rng.random(b) + 0.5,
            },
        }
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    model = BNN.build(784, blocks, {"weight": rng.choice([-1, 1], (10, sizes[-1]))})
    weights = sum(b.weight.size for b in model.blocks) + model.output.weight.size
    print(f"{'-'.join(map(str, model.layer_sizes))}: {weights} weights\n")
    print("| format | file MB | save s | load s | loaded model MB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".npz", ".json"):
            path = Path(tmp) / f"m{suffix}"
            t = time.perf_counter()
            save_model(model, path)
            save = time.perf_counter() - t
            loads = []
            for _ in range(3):
                before = rss_mb()
                t = time.perf_counter()
                back = load_model(path)
                loads.append(time.perf_counter() - t)
                grown = rss_mb() - before
                del back
            mb = path.stat().st_size / 2**20
            load = statistics.median(loads)
            print(f"| {suffix[1:]} | {mb:.2f} | {save:.2f} | {load:.3f} | {grown:.0f} |")


if __name__ == "__main__":
    main()
