"""Which PySAT cardinality encoding and solver to use: solve time per Hamming radius.

    python benchmarks/bench_sat_encodings.py [--quick]

For each (encoding, solver), one region-folded session per radius asks "is there an
adversarial input?" on BNNQuanalyst's 100-input models; prints clauses and seconds.
"""

from __future__ import annotations

import argparse
import time

from bench_engines import PEERS, quick_models  # noqa: E402

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.encoders.cnf import ENCODINGS
from bdd4bnn.engines.sat.session import SatSession
from bdd4bnn.semantics import classify


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        cases = [(n, m, u, r) for n, m, u, r, _ in quick_models()]
        solvers, encodings = ["glucose4"], ["seqcounter", "kmtotalizer"]
    else:
        cases = []
        for name, inst in [
            ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100"),
            ("mnist_bnn_1_blk_100_100_10", "instance_1_100"),
        ]:
            m = load_model(PEERS / "models" / name)
            cases.append((name, m, load_input(PEERS / "inputs" / f"{inst}.txt", 100), [1, 2, 3, 4]))
        solvers, encodings = ["glucose4", "cadical195", "minisat22"], list(ENCODINGS)
    print("| model | encoding | solver | clauses (r=max) | seconds per radius | total |")
    print("|---|---|---|---|---|---|")
    for name, model, u, radii in cases:
        label = int(classify(model, u))
        others = [c for c in range(model.num_classes) if c != label]
        for enc in encodings:
            for solver in solvers:
                times, clauses = [], 0
                for r in radii:
                    t = time.perf_counter()
                    with SatSession(model, Region.hamming(u, r), solver=solver, encoding=enc) as s:
                        s.find(Region.hamming(u, r), others)
                        clauses = len(s.enc.clauses)
                    times.append(time.perf_counter() - t)
                cells = " ".join(f"{t:.3f}" for t in times)
                print(
                    f"| {name} | {enc} | {solver} | {clauses} | {cells} | {sum(times):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
