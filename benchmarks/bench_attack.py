"""The beam attack alone on the first N test images: the distance found, the flipped pixels
and the seconds per image (compare two checkouts by running this under each's PYTHONPATH).

    python benchmarks/bench_attack.py MODEL [--images 6] [--radius 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bdd4bnn import Region, load_model
from bdd4bnn.analyses.attack import beam_attack
from bdd4bnn.data import load_mnist, model_inputs
from bdd4bnn.semantics import classify


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--radius", type=int, default=4)
    args = ap.parse_args()
    model = load_model(args.model)
    images, _ = load_mnist("test")
    x, _ = model_inputs(model, images[: args.images])
    print("| image | found at | flips | seconds |\n|---|---|---|---|")
    total = 0.0
    for i, u in enumerate(x):
        t = time.perf_counter()
        hit = beam_attack(model, Region.hamming(u, args.radius), int(classify(model, u)))
        took = time.perf_counter() - t
        total += took
        found = ("-", "-") if hit is None else (hit[0], np.flatnonzero(hit[1] != u).tolist())
        print(f"| {i} | {found[0]} | {found[1]} | {took:.2f} |")
    print(f"\ntotal {total:.2f} s")


if __name__ == "__main__":
    main()
