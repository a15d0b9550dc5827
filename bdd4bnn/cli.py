"""The ``bdd4bnn`` command line: a thin click layer over :mod:`bdd4bnn.analyses`.

Exit codes: 0 done (``verify``: robust), 1 ``verify`` found an adversarial input,
2 bad input (one line on stderr), 3 unknown (a time or node limit was hit).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .analyses.count import count as count_region
from .analyses.explain import KINDS, class_graph
from .analyses.explain import explain as explain_decision
from .analyses.radius import radius as radius_of
from .analyses.verify import verify as verify_region
from .engines import Capability, names
from .errors import Bdd4bnnError, InputError
from .formats import load_indices, load_input, load_model
from .model import BNN
from .plots import draw_explanations
from .region import Region

COUNT_ENGINES = names(Capability.COUNT)
FIND_ENGINES = names(Capability.FIND)
EXACT_COUNT_ENGINES = names(Capability.COUNT, Capability.EXACT)

EXIT_ADVERSARIAL = 1
EXIT_BAD_INPUT = 2
EXIT_UNKNOWN = 3


def _fail(message: str) -> None:
    click.echo(f"bdd4bnn: error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bdd4bnn's errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Bdd4bnnError as exc:
            _fail(str(exc))
        except RecursionError:  # pragma: no cover - defensive
            _fail("input too deep to process")

    return wrapper


def region_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --input, --radius, --free, --target, --timeout, --max-nodes, --json."""
    options = [
        click.argument("model", type=click.Path()),
        click.option(
            "--input",
            "input_file",
            required=True,
            type=click.Path(),
            help="Input file: 0/1 or -1/+1 values (whitespace/comma separated, or a JSON array).",
        ),
        click.option("--radius", type=int, help="Hamming radius (with --free: max flips in it)."),
        click.option(
            "--free",
            "free_file",
            type=click.Path(),
            help="File of 0-based indices of the pixels that may change.",
        ),
        click.option(
            "--target",
            "targets",
            type=int,
            multiple=True,
            help="Count as adversarial only inputs classified as this class (repeatable).",
        ),
        click.option("--timeout", type=float, help="Give up after this many seconds (unknown)."),
        click.option("--max-nodes", type=int, help="Give up past this many live BDD nodes."),
        click.option(
            "--backend",
            type=click.Choice(["auto", "cudd", "autoref"]),
            default="auto",
            show_default=True,
            help="BDD backend.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_region(model: BNN, input_file: str, radius: int | None, free_file: str | None) -> Region:
    """Return the region the options describe (exactly one of radius / free is needed)."""
    if radius is None and free_file is None:
        raise click.UsageError("give --radius R, or --free FILE (optionally with --radius R)")
    center = load_input(input_file, model.input_size)
    if free_file is not None:
        return Region.fixed(center, load_indices(free_file, model.input_size), radius)
    assert radius is not None
    return Region.hamming(center, radius)


def _check_limits(timeout: float | None, max_nodes: int | None) -> None:
    if timeout is not None and not timeout > 0:
        raise click.BadParameter("must be > 0", param_hint="--timeout")
    if max_nodes is not None and max_nodes <= 0:
        raise click.BadParameter("must be > 0", param_hint="--max-nodes")


class _Progress:
    """A tqdm bar on stderr, shown only on a terminal."""

    def __init__(self, total: int, quiet: bool, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=desc,
            unit="step",
            leave=False,
            disable=True if quiet else None,
            file=sys.stderr,
        )

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def start(self, total: int, unit: str) -> None:
        """Resize the bar once the analysis knows its work (e.g. inputs to enumerate)."""
        self.bar.reset(total=total)
        self.bar.unit = unit

    def close(self) -> None:
        self.bar.close()


def _model_name(model: BNN) -> str:
    return str(model.metadata.get("name", "model"))


def _show(rows: list[tuple[str, object]]) -> None:
    """Print aligned ``key: value`` lines."""
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        click.echo(f"{key + ':':<{width}}{value}")


def _head(net: BNN, region: Region | None, label: int) -> list[tuple[str, object]]:
    """Return the model / region / label lines every analysis prints first."""
    sizes = "-".join(map(str, net.layer_sizes))
    return [
        ("model", f"{_model_name(net)} ({sizes})"),
        ("region", region.summary() if region else "all inputs"),
        ("label", label),
    ]


def _engine_line(res: Any) -> tuple[str, object]:
    why = getattr(res, "engine_reason", None)
    return ("engine", res.engine + (f" ({why})" if why else ""))


def _emit(result: dict[str, Any], as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(result))
    else:
        human()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bdd4bnn")
def main() -> None:
    """Exact verification and quantitative analysis of binarized neural networks."""


@main.command()
@region_options
@click.option(
    "--engine",
    type=click.Choice(COUNT_ENGINES),
    default="auto",
    show_default=True,
    help="bdd / enum (exact), approx (ApproxMC), auto (chosen by a documented rule).",
)
@click.option(
    "--approx-epsilon",
    type=float,
    default=0.8,
    show_default=True,
    help="ApproxMC tolerance: estimates within a (1+eps) factor...",
)
@click.option(
    "--approx-delta",
    type=float,
    default=0.2,
    show_default=True,
    help="...with probability at least 1 - delta.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="ApproxMC seed.")
@friendly_errors
def count(
    model,
    input_file,
    radius,
    free_file,
    targets,
    timeout,
    max_nodes,
    backend,
    as_json,
    quiet,
    engine,
    approx_epsilon,
    approx_delta,
    seed,
) -> None:
    """Count, exactly and per class, the inputs of a region by predicted class."""
    _check_limits(timeout, max_nodes)
    net = load_model(model)
    region = build_region(net, input_file, radius, free_file)
    bar = _Progress(sum(b.out_size for b in net.blocks) + net.num_classes, quiet, "count")
    try:
        res = count_region(
            net,
            region,
            engine=engine,
            epsilon=approx_epsilon,
            delta=approx_delta,
            seed=seed,
            targets=targets or None,
            timeout=timeout,
            max_nodes=max_nodes,
            backend=backend,
            progress=bar,
        )
    finally:
        bar.close()
    out = res.to_json() | {"model": _model_name(net)}

    def human() -> None:
        rows = _head(net, region, res.label)
        if res.status != "ok":
            rows.append(("result", f"UNKNOWN ({res.reason})"))
        else:
            assert res.per_class is not None and res.adversarial is not None
            cells = "  ".join(f"{c}: {n}" for c, n in enumerate(res.per_class) if n)
            approx = "" if res.exact else f" (ApproxMC, eps={res.epsilon}, delta={res.delta})"
            verdict = "robust" if res.robust else "NOT robust"
            rows += [
                ("per class", cells + approx),
                (
                    "adversarial",
                    f"{res.adversarial} of {res.total} "
                    f"({res.adversarial / res.total:.4%}) -> {verdict}",
                ),
            ]
        _show([*rows, _engine_line(res), ("time", f"{res.seconds:.3f} s")])

    _emit(out, as_json, human)
    if res.status != "ok":
        sys.exit(EXIT_UNKNOWN)


@main.command()
@region_options
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=2048,
    show_default=True,
    help="Uniform samples tried first by concrete inference (0: none).",
)
@click.option(
    "--engine",
    type=click.Choice(FIND_ENGINES),
    default="auto",
    show_default=True,
    help="bdd, sat, enum, or auto (chosen by a documented rule).",
)
@friendly_errors
def verify(
    model,
    input_file,
    radius,
    free_file,
    targets,
    timeout,
    max_nodes,
    backend,
    as_json,
    quiet,
    samples,
    engine,
) -> None:
    """Decide whether every input of a region keeps the input's class.

    Exit code 0: robust; 1: an adversarial input was found (printed, re-checked by concrete
    inference); 3: unknown.
    """
    _check_limits(timeout, max_nodes)
    net = load_model(model)
    region = build_region(net, input_file, radius, free_file)
    bar = _Progress(sum(b.out_size for b in net.blocks) + net.num_classes, quiet, "verify")
    try:
        res = verify_region(
            net,
            region,
            engine=engine,
            targets=targets or None,
            timeout=timeout,
            max_nodes=max_nodes,
            backend=backend,
            progress=bar,
            samples=samples,
        )
    finally:
        bar.close()
    out = res.to_json() | {"model": _model_name(net)}

    def human() -> None:
        rows = _head(net, region, res.label)
        if res.status != "ok":
            rows.append(("result", f"UNKNOWN ({res.reason})"))
        elif res.robust:
            rows.append(("result", "ROBUST (no input of the region changes the class)"))
        else:
            assert res.counterexample is not None
            flipped = [
                i
                for i, (a, b) in enumerate(zip(res.counterexample, region.center, strict=True))
                if a != b
            ]
            rows.append(
                (
                    "result",
                    f"NOT ROBUST: flipping pixels {flipped} gives class "
                    f"{res.counterexample_class} (found by {res.found_by}, re-checked "
                    "by inference)",
                )
            )
        _show([*rows, _engine_line(res), ("time", f"{res.seconds:.3f} s")])

    _emit(out, as_json, human)
    if res.status != "ok":
        sys.exit(EXIT_UNKNOWN)
    if not res.robust:
        sys.exit(EXIT_ADVERSARIAL)


@main.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", required=True, type=click.Path(), help="Input file.")
@click.option("--max", "max_radius", type=int, help="Largest radius to try (default: n).")
@click.option(
    "--epsilon",
    type=float,
    default=0.0,
    show_default=True,
    help="Tolerated share of misclassified inputs in each ball.",
)
@click.option("--engine", type=click.Choice(FIND_ENGINES), default="auto", show_default=True)
@click.option("--timeout", type=float, help="Give up after this many seconds (unknown).")
@click.option("--max-nodes", type=int, help="Give up past this many live BDD nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@friendly_errors
def radius(
    model, input_file, max_radius, epsilon, engine, timeout, max_nodes, as_json, quiet
) -> None:
    """Find the robustness radius: the largest safe Hamming distance of an input."""
    _check_limits(timeout, max_nodes)
    net = load_model(model)
    center = load_input(input_file, net.input_size)
    if max_radius is None:
        region = Region.everything(center)
    else:
        region = Region.hamming(center, max_radius)
    bar = _Progress(region.radius, quiet, "radius")
    try:
        res = radius_of(
            net,
            region,
            epsilon=epsilon,
            engine=engine,
            timeout=timeout,
            max_nodes=max_nodes,
            progress=bar,
        )
    finally:
        bar.close()
    out = res.to_json() | {"model": _model_name(net)}

    def human() -> None:
        rows = _head(net, None, res.label)[::2]  # model, label
        if res.status != "ok":
            rows.append(("result", f"UNKNOWN ({res.reason})"))
        elif res.max_reached:
            rows.append(("radius", f"{res.radius} (the --max bound: no failure up to it)"))
        else:
            rows.append(("radius", f"{res.radius} (a failing input at distance {res.radius + 1})"))
        if epsilon:
            rows.append(("epsilon", epsilon))
        _show([*rows, _engine_line(res), ("time", f"{res.seconds:.3f} s")])

    _emit(out, as_json, human)
    if res.status != "ok":
        sys.exit(EXIT_UNKNOWN)


@main.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", required=True, type=click.Path(), help="Input file.")
@click.option("--radius", type=int, help="Within the Hamming ball of this radius.")
@click.option("--free", "free_file", type=click.Path(), help="Only these pixels may change.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="pi",
    show_default=True,
    help="pi: PI explanations; shortest: a minimum one; essential: features only.",
)
@click.option(
    "--count",
    "k",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many PI explanations (shortest first).",
)
@click.option(
    "--engine",
    type=click.Choice(FIND_ENGINES),
    default="auto",
    show_default=True,
    help="bdd: every kind; sat / enum: one PI explanation by deletion; auto: bdd.",
)
@click.option("--png", type=click.Path(), help="Draw the input with the explanations marked.")
@click.option(
    "--dot",
    type=click.Path(),
    help="Export the class BDD restricted to the region (.dot, or .graphml).",
)
@click.option("--timeout", type=float, help="Give up after this many seconds (unknown).")
@click.option("--max-nodes", type=int, help="Give up past this many live BDD nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def explain(
    model, input_file, radius, free_file, kind, k, engine, png, dot, timeout, max_nodes, as_json
) -> None:
    """Explain a decision: prime-implicant explanations, essential and necessary features.

    Without --radius or --free, explanations hold over all inputs.
    """
    _check_limits(timeout, max_nodes)
    net = load_model(model)
    center = load_input(input_file, net.input_size)
    region = None
    if radius is not None or free_file is not None:
        region = build_region(net, input_file, radius, free_file)
    res = explain_decision(
        net,
        region or Region.everything(center),
        kind=kind,
        count=k,
        engine=engine,
        timeout=timeout,
        max_nodes=max_nodes,
    )
    out = res.to_json() | {"model": _model_name(net)}
    if png and res.status == "ok":
        draw_explanations(
            center,
            res.explanations,
            res.essential,
            png,
            title=f"{_model_name(net)}: class {res.label}",
        )
        out["png"] = png
    if dot and res.status == "ok":
        import networkx as nx

        graph = class_graph(
            net, region or Region.everything(center), timeout=timeout, max_nodes=max_nodes
        )
        if str(dot).endswith(".graphml"):
            nx.write_graphml(graph, dot)
        else:
            nx.nx_pydot.write_dot(graph, dot)
        out["dot"] = dot

    def human() -> None:
        rows = _head(net, region, res.label)
        if res.status != "ok":
            rows.append(("result", f"UNKNOWN ({res.reason})"))
        rows += [
            (f"explanation {j + 1}", f"{e} ({len(e)} pixels)")
            for j, e in enumerate(res.explanations)
        ]
        if res.num_explanations is not None:
            rows.append(("PI explanations in all", res.num_explanations))
        if res.essential is not None:
            rows += [
                ("essential", f"{res.essential} (same value in every input of the class)"),
                ("necessary", f"{res.necessary} (in every PI explanation)"),
            ]
        _show([*rows, ("time", f"{res.seconds:.3f} s")])

    _emit(out, as_json, human)
    if res.status != "ok":
        sys.exit(EXIT_UNKNOWN)


def _parse_arch(arch: str) -> list[int]:
    try:
        sizes = [int(v) for v in arch.replace("x", "-").split("-")]
    except ValueError:
        raise click.BadParameter(
            f"{arch!r}: expected sizes like 100-50-20-10", param_hint="--arch"
        ) from None
    if len(sizes) < 3 or min(sizes) < 1:
        raise click.BadParameter(
            "need input, at least one hidden layer and the classes", param_hint="--arch"
        )
    return sizes


@main.command()
@click.option("--arch", required=True, help="Layer sizes, input first: e.g. 100-50-20-10.")
@click.option("--size", type=int, required=True, help="Input image side s (s*s pixels).")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=2), default=128, show_default=True)
@click.option("--lr", type=float, default=1e-2, show_default=True, help="Adam learning rate.")
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Binarization threshold of the preprocessing (default 0.4).",
)
@click.option("--ternary", is_flag=True, help="Weights in {-1, 0, +1} (threshold 0.7*mean|w|).")
@click.option("--limit", type=click.IntRange(min=2), help="Train on the first N images only.")
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option("--out", required=True, type=click.Path(), help="Where to write the model JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@friendly_errors
def train(
    arch, size, epochs, seed, batch_size, lr, threshold, ternary, limit, data_dir, out, as_json
) -> None:
    """Train a BNN on MNIST (straight-through estimator, Adam) and save it as JSON."""
    from .data import DEFAULT_THRESHOLD, load_mnist, preprocess, preprocessing_spec
    from .formats import save_model

    try:
        from .training import TrainConfig, evaluate, from_torch
        from .training import train as train_bnn
    except ImportError:
        _fail("training needs PyTorch: pip install -c constraints.txt -e '.[train]'")
    sizes = _parse_arch(arch)
    if sizes[0] != size * size:
        raise click.BadParameter(f"input size {sizes[0]} != {size}*{size}", param_hint="--arch")
    if sizes[-1] != 10:
        raise click.BadParameter(
            "MNIST has 10 classes: the last size must be 10", param_hint="--arch"
        )
    th = DEFAULT_THRESHOLD if threshold is None else threshold
    xi, yi = load_mnist("train", data_dir)
    ti, ty = load_mnist("test", data_dir)
    if limit:
        xi, yi = xi[:limit], yi[:limit]
    x_train, x_test = preprocess(xi, size, th), preprocess(ti, size, th)
    history = []

    def on_epoch(epoch, loss, acc, seconds):
        history.append({"epoch": epoch, "loss": loss, "test_accuracy": acc, "seconds": seconds})
        if not as_json:
            click.echo(
                f"epoch {epoch}/{epochs}: loss {loss:.4f}  test accuracy {acc:.4f}  "
                f"({seconds:.1f} s)",
                err=True,
            )

    cfg = TrainConfig(
        sizes, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, ternary=ternary
    )
    module = train_bnn(cfg, x_train, yi, x_test, ty, on_epoch=on_epoch)
    acc = evaluate(module, x_test, ty)
    meta = {
        "name": f"mnist_{'-'.join(map(str, sizes))}{'_ternary' if ternary else ''}",
        "preprocessing": preprocessing_spec(size, th),
        "training": {
            "epochs": epochs,
            "seed": seed,
            "batch_size": batch_size,
            "lr": lr,
            "train_images": len(x_train),
            "test_accuracy": acc,
            "ternary": ternary,
        },
    }
    net = from_torch(module, meta)
    save_model(net, out)
    res = {"out": out, "test_accuracy": acc, "history": history}
    _emit(res, as_json, lambda: click.echo(f"saved {out}: test accuracy {acc:.4f}"))


@main.command(name="eval")
@click.argument("model", type=click.Path())
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def eval_(model, data_dir, split, as_json) -> None:
    """Accuracy of a model on MNIST with the model's own preprocessing."""
    import time

    import numpy as np

    from .data import load_mnist, model_preprocessing, preprocess
    from .semantics import classify

    net = load_model(model)
    size, th = model_preprocessing(net.metadata)
    images, labels = load_mnist(split, data_dir)
    t0 = time.perf_counter()
    pred = classify(net, preprocess(images, size, th))
    acc = float((pred == labels).mean())
    per_class = [float((pred[labels == c] == c).mean()) for c in range(10)]
    out = {
        "model": _model_name(net),
        "split": split,
        "accuracy": acc,
        "n": int(len(labels)),
        "correct": int((pred == labels).sum()),
        "per_class_accuracy": per_class,
        "seconds": time.perf_counter() - t0,
    }
    _emit(
        out,
        as_json,
        lambda: click.echo(
            f"{_model_name(net)}: accuracy {acc:.4f} on {len(labels)} {split} images "
            f"({int(np.sum(pred == labels))} correct)"
        ),
    )


@main.command(name="dataset-input")
@click.option("--index", type=click.IntRange(min=0), required=True, help="Image index.")
@click.option("--size", type=int, help="Image side s (or take it from --model).")
@click.option("--model", type=click.Path(), help="Use this model's preprocessing.")
@click.option("--threshold", type=float, help="Binarization threshold (default 0.4).")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option("--out", required=True, type=click.Path(), help="Input file to write.")
@friendly_errors
def dataset_input(index, size, model, threshold, split, data_dir, out) -> None:
    """Write MNIST image INDEX as an input file (0/1 values, one image row per line)."""
    from pathlib import Path

    from .data import DEFAULT_THRESHOLD, load_mnist, model_preprocessing, preprocess

    if model is not None:
        size, th = model_preprocessing(load_model(model).metadata)
    elif size is None:
        raise click.UsageError("give --size or --model")
    else:
        th = DEFAULT_THRESHOLD if threshold is None else threshold
    images, labels = load_mnist(split, data_dir)
    if index >= len(images):
        raise click.BadParameter(f"{index} >= {len(images)} images", param_hint="--index")
    x = preprocess(images[index : index + 1], size, th)[0].reshape(size, size)
    Path(out).write_text(
        "\n".join(" ".join("1" if v > 0 else "0" for v in row) for row in x) + "\n"
    )
    click.echo(f"wrote {out}: {split} image {index}, label {int(labels[index])}, {size}x{size}")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", required=True, type=click.Path(), help="Input file.")
@click.option("--radius", type=int, help="Hamming radius (with --free: max flips in it).")
@click.option("--free", "free_file", type=click.Path(), help="Only these pixels may change.")
@click.option("--samples", type=click.IntRange(min=1), help="Uniform samples to draw.")
@click.option("--exhaustive", is_flag=True, help="Enumerate the whole region (exact match).")
@click.option(
    "--engine",
    type=click.Choice(EXACT_COUNT_ENGINES),
    default="bdd",
    show_default=True,
    help="The formal engine to check.",
)
@click.option(
    "--path",
    type=click.Choice(["auto", "triton", "int8", "float32", "packed"]),
    default="auto",
    show_default=True,
    help="The concrete inference path.",
)
@click.option("--confidence", type=float, default=0.999, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", type=float, help="Limit for the formal engine (unknown).")
@click.option("--max-nodes", type=int, help="Node limit for the formal engine.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def crosscheck(
    model,
    input_file,
    radius,
    free_file,
    samples,
    exhaustive,
    engine,
    path,
    confidence,
    seed,
    timeout,
    max_nodes,
    as_json,
) -> None:
    """Cross-check formal per-class counts with fast concrete inference.

    Exit code 0: consistent; 1: inconsistent; 3: the formal engine hit a limit.
    """
    from .analyses.crosscheck import crosscheck as run_crosscheck

    _check_limits(timeout, max_nodes)
    if exhaustive == (samples is not None):
        raise click.UsageError("give exactly one of --samples N or --exhaustive")
    if not 0 < confidence < 1:
        raise click.BadParameter("must lie in (0, 1)", param_hint="--confidence")
    net = load_model(model)
    region = build_region(net, input_file, radius, free_file)
    res = run_crosscheck(
        net,
        region,
        samples=samples,
        exhaustive=exhaustive,
        engine=engine,
        path=path,
        confidence=confidence,
        seed=seed,
        timeout=timeout,
        max_nodes=max_nodes,
    )
    out = res.to_json() | {"model": _model_name(net)}

    def human() -> None:
        rows = _head(net, region, res.label)
        rows += [
            ("formal", f"{res.formal} ({res.engine}, {res.formal_seconds:.3f} s)"),
            (
                "observed",
                f"{res.observed} ({res.mode}, {res.samples} inputs, path "
                f"{res.path}, {res.concrete_seconds:.3f} s)",
            ),
        ]
        if res.consistent is None:
            rows.append(("result", f"UNKNOWN ({res.reason})"))
        else:
            rows.append(("result", "consistent" if res.consistent else "INCONSISTENT"))
        _show(rows)

    _emit(out, as_json, human)
    if res.consistent is None:
        sys.exit(EXIT_UNKNOWN)
    if not res.consistent:
        sys.exit(EXIT_ADVERSARIAL)


@main.command()
@click.argument("job", type=click.Path())
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes.",
)
@click.option("--scheduler", help="Dask scheduler address (tcp://host:8786): run there.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@friendly_errors
def batch(job, db, workers, scheduler, quiet) -> None:
    """Run a batch job (TOML) and store one row per task; re-running skips finished tasks."""
    from tqdm import tqdm

    from .batch import ResultStore, load_job, run_job

    spec = load_job(job)
    with ResultStore(db) as store:
        todo = len(spec.tasks) - len(store.done_keys() & {t.key for t in spec.tasks})
        bar = tqdm(
            total=todo,
            desc=spec.name,
            unit="task",
            file=sys.stderr,
            disable=True if quiet else None,
        )

        def on_row(row, summary):
            bar.update(1)
            bar.set_postfix(
                done=summary["done"], unknown=summary["unknown"], failed=summary["failed"]
            )

        try:
            summary = run_job(spec, store, workers=workers, scheduler=scheduler, on_row=on_row)
        finally:
            bar.close()
    click.echo(
        f"{spec.name}: {summary['total']} tasks: {summary['done']} done, "
        f"{summary['unknown']} unknown, {summary['failed']} failed, "
        f"{summary['skipped']} already in {db}"
    )


def _open_store(db: str):
    from pathlib import Path

    from .batch import ResultStore

    if not Path(db).is_file():
        raise InputError(f"{db}: no such results database")
    return ResultStore(db)


@main.command()
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of rows.")
@friendly_errors
def results(db, as_json) -> None:
    """List the results of a batch job."""
    with _open_store(db) as store:
        rows = store.rows()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        a = r["answer"] or {}
        gist = {
            "count": f"adversarial={a.get('adversarial')}",
            "verify": f"robust={a.get('robust')}",
            "radius": f"radius={a.get('radius')}",
            "explain": f"explanation={(a.get('explanations') or [None])[0]}",
        }[r["analysis"]]
        if r["status"] != "ok":
            gist = a.get("reason") or a.get("error") or ""
        click.echo(
            f"{r['key'][:10]}  {r['status']:7}  {r['model']}  {r['input']}  "
            f"{r['region']:>8}  {r['analysis']:7}  {r['seconds']:8.3f} s  {gist}"
        )


@main.command()
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the report.")
@friendly_errors
def report(db, out) -> None:
    """Write a report: summary CSV/JSON, PNG plots and index.html."""
    from .batch.report import write_report

    with _open_store(db) as store:
        rows = store.rows()
    res = write_report(rows, out)
    click.echo(f"wrote {out}/index.html ({res['tasks']} tasks)")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def info(model, as_json) -> None:
    """Describe a model: layers, sizes, parameter count."""
    net = load_model(model)
    layers = []
    for i, b in enumerate(net.blocks):
        layers.append(
            {
                "kind": "block",
                "index": i,
                "in": b.in_size,
                "out": b.out_size,
                "batch_norm": b.bn is not None,
                "eps": None if b.bn is None else b.bn.eps,
            }
        )
    layers.append({"kind": "output", "in": net.output.in_size, "out": net.num_classes})
    out = {
        "name": _model_name(net),
        "input_size": net.input_size,
        "layer_sizes": net.layer_sizes,
        "num_classes": net.num_classes,
        "parameters": net.num_parameters,
        "layers": layers,
        "metadata": net.metadata,
    }

    def human() -> None:
        click.echo(f"model:      {out['name']}")
        click.echo(f"layers:     {'-'.join(map(str, net.layer_sizes))}")
        click.echo(f"parameters: {net.num_parameters}")
        for layer in layers:
            if layer["kind"] == "block":
                bn = (
                    f"batch norm (eps={layer['eps']:g})" if layer["batch_norm"] else "no batch norm"
                )
                click.echo(f"  block {layer['index']}: {layer['in']} -> {layer['out']}, {bn}, sign")
            else:
                click.echo(f"  output:  {layer['in']} -> {layer['out']} classes, argmax")

    _emit(out, as_json, human)



if __name__ == "__main__":  # pragma: no cover
    main()
