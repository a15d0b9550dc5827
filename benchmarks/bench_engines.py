"""Time per query of each engine on BNNQuanalyst's MNIST models, side by side in one run.

    python benchmarks/bench_engines.py [--quick] [--timeout S] [--out FILE]

Needs ../shared/peers/bnnquanalyst (or BDD4BNN_SHARED); with --quick it runs tiny random
models instead (CI keeps the script from rotting; no timing is asserted anywhere).
Prints a Markdown table: per query, each engine's seconds (or "unknown" past the timeout),
the engine auto chose, and whether every finished engine gave the same answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count, verify
from bdd4bnn.model import BNN

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared"))
PEERS = SHARED / "peers" / "bnnquanalyst"

FULL = [
    ("mnist_bnn_1_blk_100_100_10", "instance_1_100", [1, 2, 3, 4, 5], [10, 15, 20, 25]),
    ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", [1, 2, 3, 4, 5], [10, 15, 20, 25]),
    ("mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", [1, 2, 3, 4, 5], []),
    ("mnist_bnn_1_blk_784_100_10", "instance_0_784", [1, 2], [10, 15, 20, 25]),
]


def quick_models():
    rng = np.random.default_rng(0)
    model = BNN.build(
        16,
        [{"weight": rng.choice([-1, 1], (8, 16)), "bias": rng.normal(size=8)}],
        {"weight": rng.choice([-1, 1], (3, 8))},
    )
    return [("random_16_8_3", model, rng.choice([-1, 1], 16), [1, 2], [])]


def full_models():
    out = []
    for name, inst, radii, frees in FULL:
        folder = PEERS / "models" / name
        if not folder.exists():
            sys.exit(f"{folder} not found: set BDD4BNN_SHARED or use --quick")
        model = load_model(folder)
        u = load_input(PEERS / "inputs" / f"{inst}.txt", model.input_size)
        out.append((name, model, u, radii, frees))
    return out


def regions(model, u, radii, frees):
    for r in radii:
        yield f"r={r}", Region.hamming(u, r)
    for k in frees:
        path = PEERS / "inputs" / f"fixed_set_file_random_{model.input_size}_{k}.txt"
        free = [int(t) for t in path.read_text().split()]
        yield f"free {k}", Region.fixed(u, free)


def timed(fn):
    t = time.perf_counter()
    res = fn()
    return res, time.perf_counter() - t


def cell(res, seconds):
    return f"{seconds:.3f}" if res.status == "ok" else "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    models = quick_models() if args.quick else full_models()
    lines = [
        "| model | region | inputs | count bdd | count enum | count auto (engine) | "
        "verify bdd | verify sat | verify enum | verify auto (engine) | robust | agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model, u, radii, frees in models:
        for label, region in regions(model, u, radii, frees):
            counts, verdicts, cells = [], [], []
            for engine in ("bdd", "enum", "auto"):
                res, s = timed(
                    lambda e=engine, m=model, g=region: count(m, g, engine=e, timeout=args.timeout)
                )
                if res.status == "ok":
                    counts.append(res.per_class)
                cells.append(cell(res, s) + (f" ({res.engine})" if engine == "auto" else ""))
            for engine in ("bdd", "sat", "enum", "auto"):
                res, s = timed(
                    lambda e=engine, m=model, g=region: verify(
                        m, g, engine=e, samples=0, timeout=args.timeout
                    )
                )
                if res.status == "ok":
                    verdicts.append(res.robust)
                cells.append(cell(res, s) + (f" ({res.engine})" if engine == "auto" else ""))
            agree = len({tuple(c) for c in counts}) <= 1 and len(set(verdicts)) <= 1
            robust = verdicts[0] if verdicts else "?"
            lines.append(
                f"| {name} | {label} | {region.size} | "
                + " | ".join(cells)
                + f" | {robust} | {'yes' if agree else 'NO'} |"
            )
            print(lines[-1], flush=True)
            if not agree:
                sys.exit("engines disagree: " + lines[-1])
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
