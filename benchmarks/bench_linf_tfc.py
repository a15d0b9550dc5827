"""L∞ robustness of FINN's TFC_1W1A (QONNX) on real MNIST test images, in raw pixel levels.

    python benchmarks/bench_linf_tfc.py [--model PATH] [--images 100] [--eps 1,2,4,8,16,32]
        [--radius-timeout 10] [--out FILE]

Multi-level models (TFC_1W2A, the shipped ternary model) work the same way, in their
thermometer form; the L∞ radius column is left out for them (not supported yet).

For the first N test images the model classifies correctly: per ε, the verdict (robust / not /
unknown), the exact adversarial share of the raw images in the L∞ ball, and the times of
verify and count; then the L∞ radius (bounded by --radius-timeout). One process, the model
imported once (the Python API, as a batch worker runs it). Prints a Markdown table and a
summary (medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bdd4bnn import load_model
from bdd4bnn.analyses import count_linf, radius_linf, verify
from bdd4bnn.data import load_mnist
from bdd4bnn.linf import linf_ball
from bdd4bnn.semantics import classify

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=SHARED / "peers/qonnx/TFC_1W1A.onnx")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--eps", default="1,2,4,8,16,32")
    ap.add_argument("--radius-timeout", type=float, default=10.0)
    ap.add_argument("--count-timeout", type=float, default=30.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    epss = [int(e) for e in args.eps.split(",")]
    model = load_model(args.model)
    images, labels = load_mnist("test")
    pred = classify(model, model.quantizer.quantize(images))
    picked = [i for i in range(len(images)) if pred[i] == labels[i]][: args.images]
    head = "| image | " + " | ".join(f"ε={e}" for e in epss) + " | L∞ radius | seconds |"
    lines = [head, "|" + "---|" * (len(epss) + 3)]
    print("\n".join(lines), flush=True)
    vt: dict[int, list[float]] = {e: [] for e in epss}
    ct: dict[int, list[float]] = {e: [] for e in epss}
    verdicts: dict[int, dict[str, int]] = {e: {"robust": 0, "not": 0, "unknown": 0} for e in epss}
    rt, exact = [], 0
    for i in picked:
        cells = []
        for e in epss:
            ball = linf_ball(model, images[i], e)
            net = model if ball.model is None else ball.model  # multi-level: its form
            t0 = time.perf_counter()
            v = verify(net, ball.region, timeout=args.count_timeout)
            vt[e].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            c = count_linf(model, ball, timeout=args.count_timeout)
            ct[e].append(time.perf_counter() - t0)
            key = "unknown" if v.status != "ok" else ("robust" if v.robust else "not")
            verdicts[e][key] += 1
            share = c.adversarial_share_float if c.status == "ok" else None
            mark = {"robust": "R", "not": "N", "unknown": "?"}[key]
            cells.append(mark if not share else f"{mark} {share:.2e}")
        if not model.is_binary:
            line = f"| {i} | " + " | ".join(cells) + " | – | – |"
            lines.append(line)
            print(line, flush=True)
            continue
        t0 = time.perf_counter()
        r = radius_linf(model, images[i], timeout=args.radius_timeout)
        rt.append(time.perf_counter() - t0)
        exact += r.status == "ok"
        rad = r.radius if r.status == "ok" else f"{r.radius_lower}..{r.radius_upper or '?'}"
        line = f"| {i} | " + " | ".join(cells) + f" | {rad} | {rt[-1]:.2f} |"
        lines.append(line)
        print(line, flush=True)
    summary = [
        "",
        f"{len(picked)} correctly classified images (R robust, N not, ? unknown; "
        "the exact adversarial share of raw images where not robust).",
    ]
    for e in epss:
        summary.append(
            f"ε={e}: {verdicts[e]['robust']} robust, {verdicts[e]['not']} not, "
            f"{verdicts[e]['unknown']} unknown; verify median {statistics.median(vt[e]):.3f} s "
            f"(max {max(vt[e]):.2f}), count median {statistics.median(ct[e]):.3f} s "
            f"(max {max(ct[e]):.2f})"
        )
    if rt:
        summary.append(
            f"L∞ radius: {exact} exact within {args.radius_timeout:g} s; median "
            f"{statistics.median(rt):.2f} s, max {max(rt):.2f} s"
        )
    lines += summary
    print("\n".join(summary))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
