"""Interleaved before/after timings of binary-model queries, for one-sitting comparisons.

    PYTHONPATH=<checkout> python benchmarks/bench_ab_binary.py TAG [--set count|large|stream]

Run it alternately from two checkouts (before, after, before, after) and compare the lines
pairwise: the machine's speed drifts over minutes, so only neighbouring runs compare. Prints one
line: TAG and the in-process median seconds of each query.

* ``count``: ``count()`` on BNNQuanalyst's A1, A3, A4 with engines auto and bdd (median of 7);
* ``large``: streaming enumeration and the subtree walk (1 and 2 threads) at r = 4 / 5 on its
  100-100-10 model, and the subtree walk on 28 and 29 random free pixels of its 784-100-10;
* ``stream``: streaming enumeration and the 1-thread subtree walk at r = 4 (median of 5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count
from bdd4bnn.engines.enum.stream import enum_counts
from bdd4bnn.engines.enum.subtree import subtree_counts
from bdd4bnn.limits import Budget

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared")) / "peers" / "bnnquanalyst"


def med(fn, k: int) -> float:
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def model_and_input(name: str, inst: str):
    m = load_model(PEERS / "models" / name)
    return m, load_input(PEERS / "inputs" / f"{inst}.txt", m.input_size)


def counts() -> list[str]:
    out = []
    for qid, name, inst, kind, v in [
        ("A1", "mnist_bnn_2_blk_100_50_20_10", "instance_0_100", "r", 3),
        ("A3", "mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", "r", 4),
        ("A4", "mnist_bnn_1_blk_784_100_10", "instance_0_784", "f", 20),
    ]:
        m, u = model_and_input(name, inst)
        path = PEERS / "inputs" / f"fixed_set_file_random_{m.input_size}_{v}.txt"
        reg = (
            Region.hamming(u, v)
            if kind == "r"
            else Region.fixed(u, [int(t) for t in path.read_text().split()])
        )
        for eng in ("auto", "bdd"):
            count(m, reg, engine=eng)  # warm
            out.append(f"{qid}/{eng} {med(lambda: count(m, reg, engine=eng), 7):.4f}")  # noqa: B023
    return out


def large() -> list[str]:
    m, u = model_and_input("mnist_bnn_1_blk_100_100_10", "instance_0_100")
    r4 = Region.hamming(u, 4)
    subtree_counts(m, Region.hamming(u, 2), threads=1)  # warm
    out = [
        f"stream r4 {med(lambda: enum_counts(m, r4, method='stream', budget=Budget(60)), 3):.2f}",
        f"subtree1 r4 {med(lambda: subtree_counts(m, r4, threads=1), 3):.3f}",
        f"subtree2 r5 {med(lambda: subtree_counts(m, Region.hamming(u, 5), threads=2), 1):.2f}",
    ]
    m7, u7 = model_and_input("mnist_bnn_1_blk_784_100_10", "instance_0_784")
    for k in (28, 29):
        free = np.random.default_rng(k).choice(784, k, replace=False).tolist()
        out.append(f"free{k} {med(lambda: subtree_counts(m7, Region.fixed(u7, free)), 1):.2f}")  # noqa: B023
    return out


def stream() -> list[str]:
    m, u = model_and_input("mnist_bnn_1_blk_100_100_10", "instance_0_100")
    r4 = Region.hamming(u, 4)
    enum_counts(m, Region.hamming(u, 2), method="stream", budget=Budget(60))  # warm
    subtree_counts(m, Region.hamming(u, 2), threads=1)
    s = med(lambda: enum_counts(m, r4, method="stream", budget=Budget(60)), 5)
    return [f"stream {s:.3f}", f"subtree {med(lambda: subtree_counts(m, r4, threads=1), 5):.3f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tag")
    ap.add_argument("--set", choices=["count", "large", "stream"], default="count")
    args = ap.parse_args()
    rows = {"count": counts, "large": large, "stream": stream}[args.set]()
    print(args.tag, " | ".join(rows), flush=True)


if __name__ == "__main__":
    main()
