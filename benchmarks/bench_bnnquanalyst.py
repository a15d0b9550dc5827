"""BNNQuanalyst's own benchmarks (A1–A5) and a wider grid, with our engines, in one run.

    python benchmarks/bench_bnnquanalyst.py [--quick] [--grid] [--large] [--fresh]
                                            [--timeout S] [--repeats 3] [--out FILE]

A1–A5 are the queries of the performance issue; "BNNQuanalyst" is its published time on this
kind of machine, "naive enum" a plain reference-inference enumeration (the issue's baseline,
measured here in the same run). "bdd" is ``--engine bdd`` (top-down compilation, see
:mod:`bdd4bnn.engines.bdd.topdown`), "bottom-up" the same BDDs composed block by block (the
construction before it, once, within ``--timeout``). Times are the `seconds` field, median of
``--repeats``; peak memory is the growth of the process's resident memory during the query,
sampled every 2 ms (tracemalloc for Python objects is not enough: CUDD and torch allocate
natively). ``--out`` also writes the printed tables to a Markdown file (RESULTS.md quotes them
with their commentary). ``--grid`` adds every BNNQuanalyst model, its first three instances,
Hamming radii 1–5 and free sets 10/15/20/25 with ``--engine auto``.
After the A1–A5 table (in-process times) comes the same queries as users run them: a new
``bdd4bnn`` process each, in the default install (torch hidden) and the full one (``--fresh``
prints only that table).
``--large`` times exact counts past BNNQuanalyst's reach: Hamming radii 4–6 on the two
100-input models (streaming enumeration against the subtree walk on 1 and on every CPU),
and growing free-pixel sets on every 784-input model (the issue's files for 20 and 25 pixels,
then random sets drawn with the set's size as seed) until one takes over ``--timeout``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count, radius
from bdd4bnn.engines.enum.stream import enum_counts
from bdd4bnn.engines.enum.subtree import cpus as subtree_cpus
from bdd4bnn.engines.enum.subtree import subtree_counts
from bdd4bnn.semantics import classify

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared"))
PEERS = SHARED / "peers" / "bnnquanalyst"

QUERIES = [  # id, model, instance, region, BNNQuanalyst seconds, target seconds (auto)
    ("A1", "mnist_bnn_2_blk_100_50_20_10", "instance_0_100", ("r", 3), 7.5, 0.3),
    ("A2", "mnist_bnn_1_blk_100_100_10", "instance_2_100", ("r", 2), 3.5, 0.1),
    ("A3", "mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", ("r", 4), 2.0, 0.1),
    ("A4", "mnist_bnn_1_blk_784_100_10", "instance_0_784", ("f", 20), 300.0, 1.0),
    ("A5", "mnist_bnn_1_blk_100_100_10", "instance_1_100", ("radius", None), 67.9, 0.1),
]


OUT: list[str] = []  # every printed line, for --out


def emit(line: str = "") -> None:
    """Print a table line (and keep it for ``--out``)."""
    print(line, flush=True)
    OUT.append(line)


def rss_mb() -> float:
    """Return the process's resident memory now (Linux /proc), or its peak elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRss:
    """Peak resident-memory growth during a block, sampled every 2 ms by a thread (CUDD and
    torch allocate natively, so tracemalloc would miss them)."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        self.mb = max(0.0, self.peak - self.start)


def region_of(model, u, spec):
    kind, v = spec
    if kind == "r":
        return Region.hamming(u, v)
    path = PEERS / "inputs" / f"fixed_set_file_random_{model.input_size}_{v}.txt"
    return Region.fixed(u, [int(t) for t in path.read_text().split()])


def naive_enum(model, region):
    t = time.perf_counter()
    counts = np.zeros(model.num_classes, dtype=np.int64)
    for x in region.iter_points():
        counts += np.bincount(classify(model, x), minlength=model.num_classes)
    return time.perf_counter() - t, counts.tolist()


def cell(t: float | None) -> str:
    return "unknown" if t is None else f"{t:.2f}"


def bdd_target(qid: str, bq: float) -> float | None:
    """The issue's target for ``--engine bdd`` alone: 3× BNNQuanalyst on A1–A3, 1 s on A4."""
    return {"A1": bq / 3, "A2": bq / 3, "A3": bq / 3, "A4": 1.0}.get(qid)


def timed(fn):
    """Return (seconds, fn()), or (None, None) when ``fn`` hits its budget."""
    from bdd4bnn.errors import LimitReached

    t = time.perf_counter()
    try:
        value = fn()
    except LimitReached:
        return None, None
    return time.perf_counter() - t, value


def bottom_up(model, region, timeout):
    """Return (seconds or None past the timeout, per-class counts) of bottom-up composition."""
    from bdd4bnn.engines.bdd.compile import compile_region
    from bdd4bnn.limits import Budget

    def counts():
        comp = compile_region(model, region, method="compose", budget=Budget(timeout))
        return [comp.class_count(c) for c in range(model.num_classes)]

    return timed(counts)


def timed_counts(model, region, method, timeout, threads=None):
    """Return (seconds or None past the timeout, counts) of one exact enumeration."""
    from bdd4bnn.limits import Budget

    if method == "stream":
        return timed(lambda: enum_counts(model, region, method="stream", budget=Budget(timeout)))
    return timed(lambda: subtree_counts(model, region, budget=Budget(timeout), threads=threads))


def large(timeout: float, quick: bool = False) -> None:
    """Print the large-radius and large-free-set tables (see the module docstring)."""
    cpus = subtree_cpus()
    if quick:
        rng = np.random.default_rng(1)
        from bdd4bnn.model import BNN

        n = 30
        models = [
            (
                "quick",
                BNN.build(
                    n,
                    [{"weight": rng.choice([-1, 1], (12, n))}],
                    {"weight": rng.choice([-1, 1], (3, 12))},
                ),
                rng.choice([-1, 1], n),
            )
        ]
        radii, free_models = (2, 3), []
    else:
        models = []
        for name in ("mnist_bnn_1_blk_100_100_10", "mnist_bnn_2_blk_100_50_20_10"):
            model = load_model(PEERS / "models" / name)
            models.append((name, model, load_input(PEERS / "inputs" / "instance_0_100.txt", 100)))
        radii = (4, 5, 6)
        free_models = [f.name for f in sorted((PEERS / "models").iterdir()) if "_784_" in f.name]
    emit(
        f"| model | radius | inputs | stream | subtree, 1 thread | subtree, {cpus} threads | "
        "× stream | adversarial |"
    )
    emit("|---|---|---|---|---|---|---|---|")
    for name, model, u in models:
        subtree_counts(model, Region.hamming(u, 1))  # load (or compile) the walk first
        label = int(classify(model, u))
        for r in radii:
            region = Region.hamming(u, r)
            ts, cs = timed_counts(model, region, "stream", timeout) if r < 6 else (None, None)
            t1, c1 = timed_counts(model, region, "subtree", timeout, 1) if r < 6 else (None, None)
            tn, cn = timed_counts(model, region, "subtree", timeout)
            got = [c for c in (cs, c1, cn) if c is not None]
            if any(c != got[0] for c in got):
                sys.exit(f"{name} r={r}: engines disagree")
            ratio = "-" if ts is None or tn is None else f"{ts / tn:.1f}"
            adv = "-" if not got else region.size - got[0][label]
            emit(
                f"| {name} | {r} | {region.size} | {cell(ts)} | {cell(t1)} | {cell(tn)} | "
                f"{ratio} | {adv} |"
            )
    if not free_models:
        return
    emit()
    emit("| model | free pixels | inputs | subtree seconds | adversarial |")
    emit("|---|---|---|---|---|")
    for name in free_models:
        model = load_model(PEERS / "models" / name)
        u = load_input(PEERS / "inputs" / "instance_0_784.txt", 784)
        label = int(classify(model, u))
        for k in range(20, 41):
            path = PEERS / "inputs" / f"fixed_set_file_random_784_{k}.txt"
            if path.exists():
                free = [int(t) for t in path.read_text().split()]
            else:
                free = np.random.default_rng(k).choice(784, k, replace=False).tolist()
            region = Region.fixed(u, free)
            t, cnt = timed_counts(model, region, "subtree", timeout)
            adv = "-" if cnt is None else region.size - cnt[label]
            emit(f"| {name} | {k} | {region.size} | {cell(t)} | {adv} |")
            if t is None:
                break


def measure(fn, repeats):
    """Return (median seconds, last result, peak memory growth in MB) of ``repeats`` runs."""
    times, res = [], None
    with PeakRss() as mem:
        for _ in range(repeats):
            res = fn()
            times.append(res.seconds)
    return statistics.median(times), res, mem.mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="A1–A5 in new processes only")
    ap.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = ap.parse_args()
    try:
        run(args)
    finally:
        if args.out:
            args.out.write_text("\n".join(OUT) + "\n")


FRESH_TARGETS = {"A1": 0.3, "A2": 0.1, "A3": 0.1, "A4": 0.5}
# a default install (README command 1) has no torch: the same interpreter with torch hidden
NO_TORCH = "import sys; sys.modules['torch'] = None; from bdd4bnn.cli import main; main()"


def fresh_process(args: argparse.Namespace) -> None:
    """Print A1–A5 as a user runs them: a new ``bdd4bnn count`` (A5: ``radius``) process per
    query, in the default install (torch hidden) and the full one; ``seconds`` from ``--json``
    (median of ``--repeats``) and the process's wall time."""
    import json
    import subprocess

    emit()
    emit(
        "| id | command | seconds, default install | wall | seconds, full install | wall | "
        "engine | target (seconds, default) | met |"
    )
    emit("|---|---|---|---|---|---|---|---|---|")
    for qid, name, inst, spec, _bq, _target in QUERIES:
        argv = [str(PEERS / "models" / name), "--input", str(PEERS / "inputs" / f"{inst}.txt")]
        if spec[0] == "radius":
            argv = ["radius", *argv]
        elif spec[0] == "r":
            argv = ["count", *argv, "--radius", str(spec[1])]
        else:
            free = PEERS / "inputs" / f"fixed_set_file_random_784_{spec[1]}.txt"
            argv = ["count", *argv, "--free", str(free)]
        argv += ["--json", "-q"]
        cells, engine = [], "-"
        for head in ([sys.executable, "-c", NO_TORCH], [sys.executable, "-m", "bdd4bnn"]):
            secs, walls = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = subprocess.run([*head, *argv], capture_output=True, text=True)
                walls.append(time.perf_counter() - t0)
                doc = json.loads(out.stdout)
                secs.append(doc["seconds"])
                engine = doc["engine"]
            cells.append((statistics.median(secs), statistics.median(walls)))
        goal = FRESH_TARGETS.get(qid)
        met = "-" if goal is None else ("yes" if cells[0][0] <= goal else "no")
        emit(
            f"| {qid} | {' '.join(argv[:1])} … | {cells[0][0]:.3f} | {cells[0][1]:.2f} | "
            f"{cells[1][0]:.3f} | {cells[1][1]:.2f} | {engine} | "
            f"{'-' if goal is None else f'≤ {goal:g}'} | {met} |"
        )


def run(args: argparse.Namespace) -> None:
    """Print the tables the arguments ask for (see the module docstring)."""
    if args.large:
        large(args.timeout, quick=args.quick)
        return
    if args.fresh:
        if not PEERS.exists():
            sys.exit(f"{PEERS} not found: set BDD4BNN_SHARED")
        fresh_process(args)
        return
    if args.quick:
        rng = np.random.default_rng(0)
        from bdd4bnn.model import BNN

        m = BNN.build(
            20, [{"weight": rng.choice([-1, 1], (8, 20))}], {"weight": rng.choice([-1, 1], (3, 8))}
        )
        u = rng.choice([-1, 1], 20)
        for r in (1, 2):
            res = count(m, Region.hamming(u, r))
            emit(f"| quick | r={r} | {res.engine} | {res.seconds:.4f} |")
        emit(f"| quick | radius | {radius(m, Region.everything(u)).radius} |")
        region = Region.hamming(u, 3)
        top = count(m, region, engine="bdd")
        t_up, up = bottom_up(m, region, args.timeout)
        if up != top.per_class:
            sys.exit("quick: top-down and bottom-up BDDs disagree")
        emit(f"| quick | bdd r=3 | {top.seconds:.4f} | bottom-up {cell(t_up)} |")
        return
    if not PEERS.exists():
        sys.exit(f"{PEERS} not found: set BDD4BNN_SHARED or use --quick")
    emit(
        "| id | query | inputs | auto (engine) | bdd | bottom-up | naive enum | BNNQuanalyst | "
        "× BNNQuanalyst (auto) | × BNNQuanalyst (bdd) | × naive enum (auto) | target auto | met "
        "| target bdd | met | peak MB (auto) |"
    )
    emit("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for qid, name, inst, spec, bq, target in QUERIES:
        model = load_model(PEERS / "models" / name)
        u = load_input(PEERS / "inputs" / f"{inst}.txt", model.input_size)
        t_up = t_naive = None
        if spec[0] == "radius":
            t_auto, res, mem = measure(
                lambda m=model, c=u: radius(m, Region.everything(c)), args.repeats
            )
            t_bdd, rb, _ = measure(
                lambda m=model, c=u: radius(
                    m, Region.everything(c), engine="bdd", timeout=args.timeout
                ),
                args.repeats,
            )
            if rb.status == "ok" and rb.radius != res.radius:
                sys.exit(f"{qid}: bdd and auto disagree")
            desc, size, engine = f"{name} {inst} max safe radius = {res.radius}", "-", res.engine
        else:
            region = region_of(model, u, spec)
            t_auto, res, mem = measure(lambda m=model, g=region: count(m, g), args.repeats)
            t_bdd, rb, _ = measure(
                lambda m=model, g=region: count(m, g, engine="bdd", timeout=args.timeout),
                args.repeats,
            )
            if rb.status == "ok" and rb.per_class != res.per_class:
                sys.exit(f"{qid}: bdd and auto disagree")
            t_up, up_counts = bottom_up(model, region, args.timeout)
            if up_counts is not None and up_counts != res.per_class:
                sys.exit(f"{qid}: bottom-up BDDs and auto disagree")
            t_naive, naive_counts = naive_enum(model, region)
            if naive_counts != res.per_class:
                sys.exit(f"{qid}: naive enumeration and auto disagree")
            label = f"r={spec[1]}" if spec[0] == "r" else f"free {spec[1]}"
            desc, size, engine = f"{name} {inst} {label}", region.size, res.engine
        bdd_ok = rb.status == "ok"
        bdd_cell = f"{t_bdd:.3f}" if bdd_ok else "unknown"
        up_cell = "-" if spec[0] == "radius" else cell(t_up)
        naive_cell = "-" if t_naive is None else f"{t_naive:.3f}"
        ratio_naive = "-" if t_naive is None else f"{t_naive / t_auto:.1f}"
        ratio_bdd = f"{bq / t_bdd:.0f}" if bdd_ok else "-"
        bq_cell = f"> {bq:g}" if qid == "A4" else f"{bq:g}"
        goal = bdd_target(qid, bq)
        goal_cell = "-" if goal is None else f"≤ {goal:.3g}"
        goal_met = "-" if goal is None else ("yes" if bdd_ok and t_bdd <= goal else "no")
        emit(
            f"| {qid} | {desc} | {size} | {t_auto:.3f} ({engine}) | {bdd_cell} | {up_cell} | "
            f"{naive_cell} | {bq_cell} | {bq / t_auto:.0f} | {ratio_bdd} | {ratio_naive} | "
            f"≤ {target:g} | {'yes' if t_auto <= target else 'no'} | {goal_cell} | {goal_met} | "
            f"{mem:.0f} |"
        )
    fresh_process(args)
    if not args.grid:
        return
    emit()
    emit("| model | instance | region | inputs | engine | seconds | adversarial | peak MB |")
    emit("|---|---|---|---|---|---|---|---|")
    for folder in sorted((PEERS / "models").iterdir()):
        model = load_model(folder)
        n = model.input_size
        for i in range(3):
            path = PEERS / "inputs" / f"instance_{i}_{n}.txt"
            if not path.exists():
                continue
            u = load_input(path, n)
            specs = [("r", r) for r in range(1, 6)] + [
                ("f", k)
                for k in (10, 15, 20, 25)
                if (PEERS / "inputs" / f"fixed_set_file_random_{n}_{k}.txt").exists()
            ]
            for spec in specs:
                region = region_of(model, u, spec)
                with PeakRss() as mem:
                    res = count(model, region, timeout=args.timeout)
                label = f"r={spec[1]}" if spec[0] == "r" else f"free {spec[1]}"
                secs = f"{res.seconds:.3f}" if res.status == "ok" else "unknown"
                emit(
                    f"| {folder.name} | {i} | {label} | {region.size} | {res.engine} | "
                    f"{secs} | {res.adversarial} | {mem.mb:.0f} |"
                )


if __name__ == "__main__":
    main()
