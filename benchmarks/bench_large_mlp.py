"""The BNN paper's MNIST MLP shape (784-2048-2048-2048-10, binarized 28×28 input): Hamming
robustness radii, exact counts at radius 2 and 3, and verify at radii 4–8, per image.

    python benchmarks/bench_large_mlp.py MODEL.npz [--images 100] [--skip 0] [--detail 3] \
        [--timeout 30]

For the first N test images the model classifies correctly (its own preprocessing): the
radius (``radius``, bounded by --timeout, with the engines it used); for the first --detail
of them also ``count`` at r = 2 and 3 and ``verify`` at r = 4, 6, 8 (each bounded by
--timeout), with statuses, engines and times. Prints a Markdown table, the radius medians and
the process's peak resident memory; "unknown" cells carry the reason's first words.
"""

from __future__ import annotations

import argparse
import faulthandler
import resource
import statistics
import time
from pathlib import Path

from bdd4bnn import Region, load_model
from bdd4bnn.analyses import count, radius, verify
from bdd4bnn.data import load_mnist, model_inputs
from bdd4bnn.semantics import classify


def watched(args, fn):
    """Run ``fn``; past its limit by 5 s, dump every thread's stack to stderr (a limit that
    does not hold shows where)."""
    faulthandler.dump_traceback_later(args.timeout + 5, repeat=False)
    try:
        return fn()
    finally:
        faulthandler.cancel_dump_traceback_later()


def cell(res, value: str, seconds: float) -> str:
    if res.status != "ok":
        bounds = f"{value} " if value else ""
        return f"? {bounds}{seconds:.1f}s ({(res.reason or '')[:24]})"
    return f"{value} {seconds:.2f}s {res.engine}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--detail", type=int, default=3)
    ap.add_argument("--skip", type=int, default=0, help="Leave out the first N picked images.")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    images, labels = load_mnist("test")
    n = 200 if args.quick else len(images)
    x, _ = model_inputs(model, images[:n])
    pred = classify(model, x)
    picked = [i for i in range(n) if pred[i] == labels[i]][: 2 if args.quick else args.images]
    picked = picked[args.skip :]
    from bdd4bnn.encoders.propagate import propagate

    t = time.perf_counter()
    unstable = propagate(model, Region.hamming(x[picked[0]], 3)).unstable
    print(f"input propagation over a radius-3 ball: {time.perf_counter() - t:.2f} s, ", end="")
    print(f"neurons that may change per block {unstable}\n")
    print("| image | radius | count r=2 | count r=3 | verify r=4 | verify r=6 | verify r=8 |")
    print("|---|---|---|---|---|---|---|")
    rt: list[float] = []
    found: list[int | None] = []
    for i in picked:
        u = x[i]
        t = time.perf_counter()
        r = watched(args, lambda: radius(model, Region.everything(u), timeout=args.timeout))  # noqa: B023
        rt.append(time.perf_counter() - t)
        bounds = f"{r.radius}" if r.status == "ok" else f"{r.radius_lower}..{r.radius_upper or '?'}"
        found.append(r.radius if r.status == "ok" else None)
        cells = [cell(r, bounds, rt[-1])]
        if len(rt) > args.detail:
            print(f"| {i} | " + " | ".join(cells + ["-"] * 5) + " |", flush=True)
            continue
        for k in (2, 3):
            t = time.perf_counter()
            c = watched(args, lambda: count(model, Region.hamming(u, k), timeout=args.timeout))  # noqa: B023
            cells.append(
                cell(c, f"adv {c.adversarial}" if c.status == "ok" else "", time.perf_counter() - t)
            )
        for k in (4, 6, 8):
            t = time.perf_counter()
            v = watched(args, lambda: verify(model, Region.hamming(u, k), timeout=args.timeout))  # noqa: B023
            cells.append(
                cell(
                    v,
                    ("R" if v.robust else "N") if v.status == "ok" else "",
                    time.perf_counter() - t,
                )
            )
        print(f"| {i} | " + " | ".join(cells) + " |", flush=True)
    exact = sum(1 for v in found if v is not None)
    print(f"\nradius: {exact} of {len(rt)} exact; median {statistics.median(rt):.2f} s, ", end="")
    print(f"max {max(rt):.2f} s; radii {sorted(v for v in found if v is not None)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
