"""Exact binary inference throughput: each CPU path against float32 PyTorch, in one run.

    python benchmarks/bench_kernels.py [--quick] [--batches 10000 100000 1000000]

Networks: the shipped 784-100-10 and 100-50-20-10 models. Paths: the reference
(bdd4bnn.semantics.classify), float32 PyTorch (the same network as float32 matmul + batch norm
+ sign, the usual way to run a BNN), and bdd4bnn.kernels.predict's int8, float32 and packed
paths (and triton when a CUDA GPU is present). Prints inputs/s, ±1 multiply-accumulates/s
and the ratio to float32 PyTorch; every exact path's predictions are checked equal to the
reference.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bdd4bnn import load_model
from bdd4bnn.engines.enum.stream import macs
from bdd4bnn.kernels import predict
from bdd4bnn.kernels.predict import default_path
from bdd4bnn.semantics import classify

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["mnist_28x28_784-100-10.json", "mnist_10x10_100-50-20-10.json"]


def torch_float32(model):
    """Return a float32 PyTorch function computing the network's predictions."""
    layers = []
    for b in model.blocks:
        w = torch.tensor(b.weight, dtype=torch.float32)
        bias = torch.tensor(b.bias, dtype=torch.float32)
        bn = b.bn
        g, be, mu, var = (
            torch.tensor(v, dtype=torch.float32) for v in (bn.gamma, bn.beta, bn.mean, bn.var)
        )
        layers.append((w, bias, g, be, mu, torch.sqrt(var + bn.eps)))
    wo = torch.tensor(model.output.weight, dtype=torch.float32)
    bo = torch.tensor(model.output.bias, dtype=torch.float32)

    @torch.no_grad()
    def run(x):
        h = torch.from_numpy(x).float()
        for w, bias, g, be, mu, sd in layers:
            h = torch.where(g * (h @ w.T + bias - mu) / sd + be >= 0, 1.0, -1.0)
        return (h @ wo.T + bo).argmax(dim=1).numpy()

    return run


def best_of(fn, x, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batches", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    batches = [512] if args.quick else args.batches
    repeats = 1 if args.quick else 3
    paths = ["int8", "float32", "packed"] + (["triton"] if default_path() == "triton" else [])
    print(f"torch threads: {torch.get_num_threads()}; auto path: {default_path()}")
    print("| model | batch | path | inputs/s | ±1 MAC/s | × float32 torch | equal |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name in MODELS:
        model = load_model(ROOT / "models" / name)
        f32 = torch_float32(model)
        for n in batches:
            x = rng.choice(np.array([-1, 1], dtype=np.int8), (n, model.input_size))
            ref_t, ref = best_of(
                lambda v, m=model: classify(m, v), x, 1 if n > 100_000 else repeats
            )
            base_t, base = best_of(f32, x, repeats)
            rows = [("reference", ref_t, True), ("float32 torch", base_t, None)]
            for p in paths:
                t, got = best_of(lambda v, p=p, m=model: predict(m, v, p), x, repeats)
                rows.append((p, t, bool((got == ref).all())))
            for label, t, eq in rows:
                eq_s = "-" if eq is None else ("yes" if eq else "NO")
                print(
                    f"| {name[:-5]} | {n} | {label} | {n / t:,.0f} | "
                    f"{n * macs(model) / t:.3g} | {base_t / t:.2f} | {eq_s} |",
                    flush=True,
                )
                if eq is False:
                    raise SystemExit(f"{label} disagrees with the reference")


if __name__ == "__main__":
    main()
