"""The exact Hamming robustness radius of MNIST test images on the shipped 28×28 model, each
in a fresh ``bdd4bnn radius`` process with default options (as users run it).

    python benchmarks/bench_radius_mnist.py [--images 100 | --select 1,7,13] [--timeout 120]
        [--out FILE]

Prints one row per image (label, radius or the proven bounds, seconds from ``--json``, wall
time, engines) and a summary (median, slowest, how many exact).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bdd4bnn import load_model
from bdd4bnn.data import input_text, load_mnist, model_preprocessing, preprocess

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "mnist_28x28_784-100-10.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--select", help="comma-separated test-image indices (instead of --images)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = ap.parse_args()
    model = load_model(MODEL)
    size, th = model_preprocessing(model.metadata)
    images, labels = load_mnist("test")
    picked = [int(v) for v in args.select.split(",")] if args.select else list(range(args.images))
    xs = preprocess(images[picked], size, th)
    lines = [
        "| image | label | radius | lower | upper | seconds | wall | engine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    secs, exact = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, x in zip(picked, xs, strict=True):
            path = Path(tmp) / f"x{i}.txt"
            path.write_text(input_text(x, size))
            argv = [sys.executable, "-m", "bdd4bnn", "radius", str(MODEL), "--input", str(path)]
            argv += ["--json", "-q", "--timeout", f"{args.timeout:g}"]
            t0 = time.perf_counter()
            out = subprocess.run(argv, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            doc = json.loads(out.stdout)
            secs.append(doc["seconds"])
            exact += doc["status"] == "ok"
            radius = doc["radius"] if doc["status"] == "ok" else "unknown"
            line = (
                f"| {i} | {int(labels[i])} | {radius} | {doc['radius_lower']} | "
                f"{doc['radius_upper']} | {doc['seconds']:.2f} | {wall:.2f} | {doc['engine']} |"
            )
            lines.append(line)
            print(line, flush=True)
    summary = (
        f"\n{len(secs)} images: {exact} exact; seconds median {statistics.median(secs):.2f}, "
        f"max {max(secs):.2f}; over 10 s: {sum(s > 10 for s in secs)}, over 120 s: "
        f"{sum(s > 120 for s in secs)}"
    )
    lines.append(summary)
    print(summary)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
