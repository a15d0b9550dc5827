"""Does an image of the 2048-wide MLP have an input at Hamming distance 3 among its K most
sensitive pixels? (Evidence for where the radius lies when the ball of radius 3 is too big to
prove: 8·10⁷ inputs.)

    python benchmarks/probe_sensitive_triples.py MODEL.npz --k 120 --images 5,2,16

For each listed test image (indices into the test set; the model must classify it
correctly): every single-pixel flip is classified exactly, the K pixels whose flip lowers
the label's score margin most are kept, and ``verify`` decides exactly whether a flip of at
most 3 of them changes the class (a fixed-index region of K free pixels, radius 3). Prints
one table row per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bdd4bnn import Region, load_model
from bdd4bnn.analyses import verify
from bdd4bnn.data import load_mnist, model_inputs
from bdd4bnn.semantics import classify, hidden_forward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--k", type=int, default=120)
    ap.add_argument("--images", default="0,12")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--quick", action="store_true", help="K = 10 (a smoke test).")
    args = ap.parse_args()
    if args.quick:
        args.k = 10
    model = load_model(args.model)
    images, labels = load_mnist("test")
    which = [int(a) for a in args.images.split(",")]
    x, _ = model_inputs(model, images[: max(which) + 1])
    w = model.output.weight.astype(np.float64)
    print("| image | K | distance ≤ 3 among the K | seconds |\n|---|---|---|---|")
    for i in which:
        u = x[i]
        label = int(classify(model, u))
        if label != labels[i]:
            print(f"| {i} | - | misclassified | - |")
            continue
        flips = np.repeat(u[None, :], u.size, axis=0)
        flips[np.arange(u.size), np.arange(u.size)] *= -1
        s = hidden_forward(model, flips).astype(np.float64) @ w.T + model.output.bias
        others = [c for c in range(model.num_classes) if c != label]
        top = np.argsort(s[:, label] - s[:, others].max(axis=1))[: args.k]
        t = time.perf_counter()
        region = Region.fixed(u, sorted(top.tolist()), 3)
        v = verify(model, region, engine="enum", timeout=args.timeout, samples=0)
        got = "unknown" if v.status != "ok" else "none" if v.robust else f"flip {v.flipped}"
        print(f"| {i} | {args.k} | {got} | {time.perf_counter() - t:.1f} |", flush=True)


if __name__ == "__main__":
    main()
