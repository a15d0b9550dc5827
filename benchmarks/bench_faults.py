"""Weight faults on the shipped 784-100-10 model: exact min flips, counts, and BER intervals.

    python benchmarks/bench_faults.py [--images 100] [--flips 3] [--timeout 60]

Per test image (its ±1 input by the model's own preprocessing): the fewest flips that change
the decision (up to --flips), the exact counts of changing flip sets of each size, and the
interval of P(decision changes) at BER 10⁻⁴, 10⁻³, 10⁻²; then medians, and the expected
accuracy at each BER over the images as a rigorous interval (each image correct with
probability 1 − P(decision ≠ its true class), from ``fault_rate(..., keep=true class)``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bdd4bnn import load_model
from bdd4bnn.analyses.faults import fault_counts, fault_rate
from bdd4bnn.data import load_mnist, model_inputs

ROOT = Path(__file__).resolve().parent.parent
BERS = (1e-4, 1e-3, 1e-2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models/mnist_28x28_784-100-10.json")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--flips", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    model = load_model(args.model)
    images, labels = load_mnist("test")
    xs, _ = model_inputs(model, images[: args.images])
    print(
        "| image | min flips | changed k=1..K | "
        + " | ".join(f"P(chg) at {p:g}" for p in BERS)
        + " | count s | rate s |"
    )
    print("|---|---|---|" + "---|" * len(BERS) + "---|---|")
    ct, rt, acc = [], {p: [] for p in BERS}, {p: [0.0, 0.0] for p in BERS}
    widths = {p: [] for p in BERS}
    for i, x in enumerate(xs):
        t0 = time.perf_counter()
        res = fault_counts(model, x, args.flips, timeout=args.timeout)
        ct.append(time.perf_counter() - t0)
        changed = res.changed()
        first = next((k for k, v in enumerate(changed) if v), None)
        cells = []
        for p in BERS:
            t0 = time.perf_counter()
            r = fault_rate(model, x, p, timeout=args.timeout)
            rt[p].append(time.perf_counter() - t0)
            widths[p].append(r["hi"] - r["lo"])
            cells.append(f"[{r['lo']:.3g}, {r['hi']:.3g}] {rt[p][-1]:.2f} s")
            if res.label != labels[i]:  # P(correct) needs P(decision ≠ the true class)
                r = fault_rate(model, x, p, keep=int(labels[i]), timeout=args.timeout)
            acc[p][0] += 1 - r["hi"]
            acc[p][1] += 1 - r["lo"]
        print(
            f"| {i} | {first if first is not None else f'> {args.flips}'} | "
            f"{', '.join(map(str, changed[1:]))} | "
            + " | ".join(cells)
            + f" | {ct[-1]:.2f} | {sum(rt[p][-1] for p in BERS):.2f} |",
            flush=True,
        )
    n = len(xs)
    print(
        f"\n{n} images; min+count (K = {args.flips}) median {statistics.median(ct):.2f} s "
        f"(max {max(ct):.2f})"
    )
    for p in BERS:
        print(
            f"BER {p:g}: rate median {statistics.median(rt[p]):.2f} s (max {max(rt[p]):.2f}), "
            f"width max {max(widths[p]):.2g}, width <= 1e-6 on "
            f"{sum(w <= 1e-6 for w in widths[p])}/{n}; expected accuracy in "
            f"[{acc[p][0] / n:.6f}, {acc[p][1] / n:.6f}]"
        )


if __name__ == "__main__":
    main()
