"""One exact count over a Dask LocalCluster: strong scaling on this machine, the split's own
cost, Dask's per-task overhead, and a projection to larger clusters.

    python benchmarks/bench_cluster.py [--radius 6] [--workers 1,2] [--parts 16]
        [--models mnist_bnn_1_blk_100_100_10,mnist_bnn_2_blk_100_50_20_10] [--quick]

For each of BNNQuanalyst's 100-input models named (instance_0_100, Hamming ball of --radius):

* ``one process``: ``count(engine="auto")`` in this process (the subtree walk on every CPU);
* ``parts in turn``: the same region split into --parts disjoint parts, each counted in this
  process one after the other (the split's cost is this over ``one process``);
* ``N workers``: ``count(client=...)`` on a LocalCluster of N single-threaded worker processes
  (engine "auto" per part, as many parts as ``engines.choose.parts_for`` gives), started
  before the clock.

Then the median of Dask's round trip for 200 empty tasks (the per-part overhead), and a
projection for 8/32/128 workers: max(longest part, sum of parts / workers) + parts × overhead
/ workers, from the measured part times — a projection, not a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count
from bdd4bnn.model import BNN

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared")) / "peers" / "bnnquanalyst"


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def _noop(i: int) -> int:
    return i


def _warm(model: BNN, u) -> None:
    """Load the compiled loops (numba's cache) in this process, as a first query would."""
    from bdd4bnn.engines.enum.subtree import subtree_counts

    subtree_counts(model, Region.hamming(u, 2))
    count(model, Region.hamming(u, 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--radius", type=int, default=6)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--parts", type=int, default=16)
    ap.add_argument("--models", default="mnist_bnn_1_blk_100_100_10,mnist_bnn_2_blk_100_50_20_10")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    if args.quick:
        import numpy as np

        rng = np.random.default_rng(0)
        m = BNN.build(
            30,
            [{"weight": rng.choice([-1, 1], (12, 30))}],
            {"weight": rng.choice([-1, 1], (3, 12))},
        )
        cases = [("quick", m, rng.choice([-1, 1], 30))]
        radius = 3
    else:
        cases = []
        for name in args.models.split(","):
            m = load_model(PEERS / "models" / name)
            cases.append((name, m, load_input(PEERS / "inputs" / "instance_0_100.txt", 100)))
        radius = args.radius
    workers = [int(w) for w in args.workers.split(",")]
    head = "| model | radius | inputs | one process | parts in turn | split cost | "
    head += " | ".join(f"{w} workers" for w in workers) + " |"
    print(head)
    print("|" + "---|" * (6 + len(workers)))
    part_times: list[float] = []
    for name, model, u in cases:
        region = Region.hamming(u, radius)
        _warm(model, u)  # every process loads the compiled walk before the clock
        one, whole = timed(lambda: count(model, region))  # noqa: B023
        parts = region.split(args.parts)
        times = []
        total = [0] * model.num_classes
        for p in parts:
            t, r = timed(lambda: count(model, p))  # noqa: B023
            times.append(t)
            total = [a + b for a, b in zip(total, r.per_class, strict=True)]
        assert total == whole.per_class
        part_times = times
        cells = []
        for w in workers:
            with (
                LocalCluster(
                    n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                client.run(_warm, model, u)
                t, res = timed(lambda: count(model, region, client=client))  # noqa: B023
                assert res.per_class == whole.per_class
                cells.append(f"{t:.2f}")
        row = f"| {name} | {radius} | {region.size} | {one:.2f} | {sum(times):.2f} | "
        row += f"{sum(times) / one - 1:+.1%} | " + " | ".join(cells) + " |"
        print(row, flush=True)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(_noop, range(20)))
        t0 = time.perf_counter()
        client.gather(client.map(_noop, range(200), pure=False))
        overhead = (time.perf_counter() - t0) / 200
    print(f"\nDask per-task overhead (200 empty tasks, 2 workers): {overhead * 1e3:.2f} ms")
    longest, work = max(part_times), sum(part_times)
    print(
        f"last model's parts: {len(part_times)}, longest {longest:.2f} s, "
        f"sum {work:.2f} s, median {statistics.median(part_times):.2f} s"
    )
    for w in (8, 32, 128):
        proj = max(longest, work / w) + len(part_times) * overhead / w
        print(f"projection, {w} workers: {proj:.2f} s (parts of this split; more parts lower it)")


if __name__ == "__main__":
    main()
