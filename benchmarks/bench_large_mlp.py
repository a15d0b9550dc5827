"""The BNN paper's MNIST MLP shape (784-2048-2048-2048-10, binarized 28×28 input): Hamming
robustness radii, exact counts at radius 2 and 3, and verify at radii 4–8, per image.

    python benchmarks/bench_large_mlp.py MODEL.npz [--images 100] [--timeout 30] [--quick]

For the first N test images the model classifies correctly (its own preprocessing): the
radius (``radius``, bounded by --timeout, with the engines it used), ``count`` at r = 2 and 3
and ``verify`` at r = 4, 6, 8 (each bounded by --timeout), with statuses, engines and times.
Prints a Markdown table and medians; "unknown" cells carry the reason's first words.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bdd4bnn import Region, load_model
from bdd4bnn.analyses import count, radius, verify
from bdd4bnn.data import load_mnist, model_inputs
from bdd4bnn.semantics import classify


def cell(res, value: str, seconds: float) -> str:
    if res.status != "ok":
        return f"? {seconds:.1f}s ({(res.reason or '')[:24]})"
    return f"{value} {seconds:.2f}s {res.engine}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    images, labels = load_mnist("test")
    n = 200 if args.quick else len(images)
    x, _ = model_inputs(model, images[:n])
    pred = classify(model, x)
    picked = [i for i in range(n) if pred[i] == labels[i]][: 2 if args.quick else args.images]
    print("| image | radius | count r=2 | count r=3 | verify r=4 | verify r=6 | verify r=8 |")
    print("|---|---|---|---|---|---|---|")
    rt = []
    for i in picked:
        u = x[i]
        t = time.perf_counter()
        r = radius(model, Region.everything(u), timeout=args.timeout)
        rt.append(time.perf_counter() - t)
        bounds = f"{r.radius}" if r.status == "ok" else f"{r.radius_lower}..{r.radius_upper}"
        cells = [cell(r, bounds, rt[-1])]
        for k in (2, 3):
            t = time.perf_counter()
            c = count(model, Region.hamming(u, k), timeout=args.timeout)
            cells.append(cell(c, f"adv {c.adversarial}", time.perf_counter() - t))
        for k in (4, 6, 8):
            t = time.perf_counter()
            v = verify(model, Region.hamming(u, k), timeout=args.timeout)
            cells.append(cell(v, "R" if v.robust else "N", time.perf_counter() - t))
        print(f"| {i} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nradius: median {statistics.median(rt):.2f} s, max {max(rt):.2f} s")


if __name__ == "__main__":
    main()
