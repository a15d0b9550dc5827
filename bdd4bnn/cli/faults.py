"""The ``faults`` command group: weight bit errors, exactly (:mod:`bdd4bnn.analyses.faults`)."""

from __future__ import annotations

import math
import sys
from typing import Any

import click

from ..errors import LimitReached
from .common import (
    EXIT_UNKNOWN,
    Finite,
    emit,
    friendly_errors,
    load_center,
    show,
    with_bar,
)

__all__ = ["COMMANDS"]


def _layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"expected layer indices like 0,1, got {text!r}") from None


STORAGE = click.option(
    "--storage",
    type=click.Choice(["auto", "binary", "int2"]),
    default="auto",
    show_default=True,
    help="How weights are stored: binary (1 bit, a flip negates) or int2 (2 bits, two's "
    "complement); auto: int2 for ternary models.",
)


def _common(fn):
    options = [
        click.argument("model", type=click.Path()),
        click.option("--input", "input_file", type=click.Path(), help="Input file (±1 or 0/1)."),
        click.option("--image", type=click.Path(), help="Or a raw image, binarized."),
        click.option(
            "--layers",
            help="Faulty layers, 0-based: hidden blocks, then the output layer (default: all).",
        ),
        STORAGE,
        click.option("--timeout", type=Finite(min=0, min_open=True), help="Give up after this."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return friendly_errors(fn)


def _load(model: str, input_file: str | None, image: str | None):
    from ..formats import load_model

    net = load_model(model)
    return net, load_center(net, input_file, image)


def _head(net, label: int) -> list[tuple[str, object]]:
    sizes = "-".join(map(str, net.layer_sizes))
    return [("model", f"{net.name} ({sizes})"), ("label", label)]


def _unknown(exc: LimitReached, as_json: bool) -> None:
    emit({"status": "unknown", "reason": str(exc)}, as_json, lambda: click.echo(f"unknown: {exc}"))
    sys.exit(EXIT_UNKNOWN)


@click.group()
def faults() -> None:
    """Exact analysis of weight bit errors (each stored weight bit may flip)."""


@faults.command(name="min")
@_common
@click.option("--max", "max_flips", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--target", type=click.IntRange(min=0), help="Only flips to this class count.")
def min_command(
    model, input_file, image, layers, storage, timeout, as_json, max_flips, target
) -> None:
    """The fewest weight flips that change the decision, with a checked flip set."""
    from ..analyses.faults import min_flips

    net, x = _load(model, input_file, image)
    try:
        doc = min_flips(
            net,
            x,
            max_flips,
            target=target,
            layers=_layers(layers),
            storage=storage,
            timeout=timeout,
        )
    except LimitReached as exc:
        _unknown(exc, as_json)
    doc["status"] = "ok"

    def human() -> None:
        rows = _head(net, doc["label"])
        if doc["min_flips"] is None:
            rows.append(("result", f"no set of at most {doc['max_flips']} flips changes it"))
        else:
            rows += [
                ("min flips", doc["min_flips"]),
                ("flips", " ".join(":".join(map(str, f)) for f in doc["flips"])),
                ("faulted class", doc["faulted_class"]),
            ]
        show(rows)

    emit(doc, as_json, human)


@faults.command(name="count")
@_common
@click.option("--flips", "max_flips", type=click.IntRange(min=0), required=True)
def count_command(model, input_file, image, layers, storage, timeout, as_json, max_flips) -> None:
    """Exact counts of the flip sets of each size k ≤ K that change the decision."""
    from ..analyses.faults import fault_counts

    net, x = _load(model, input_file, image)
    try:
        res = fault_counts(
            net, x, max_flips, layers=_layers(layers), storage=storage, timeout=timeout
        )
    except LimitReached as exc:
        _unknown(exc, as_json)
    changed = res.changed()
    total = [math.comb(res.bits, k) for k in range(max_flips + 1)]
    doc: dict[str, Any] = {
        "status": "ok",
        "label": res.label,
        "weight_bits": res.bits,
        "storage": res.extra["storage"],
        "changed": changed,
        "per_class": res.per_class,
        "total": total,
        "share": [c / t for c, t in zip(changed, total, strict=True)],
    }

    def human() -> None:
        rows = _head(net, res.label)
        for k in range(max_flips + 1):
            rows.append((f"k={k}", f"{changed[k]} of {total[k]} change it ({doc['share'][k]:.3g})"))
        show(rows)

    emit(doc, as_json, human)


@faults.command(name="rate")
@_common
@click.option("--ber", type=Finite(0, 1), required=True, help="Bit error rate p in [0, 1].")
@click.option(
    "--width",
    type=Finite(0, 1, min_open=True),
    default=1e-6,
    show_default=True,
    help="Stop once the interval is this narrow.",
)
@click.option(
    "--keep", type=click.IntRange(min=0), help="Instead: P(the decision is not this class)."
)
def rate_command(
    model, input_file, image, layers, storage, timeout, as_json, ber, width, keep
) -> None:
    """A rigorous interval for the probability that the decision changes at BER p."""
    from ..analyses.faults import fault_rate

    net, x = _load(model, input_file, image)
    doc = fault_rate(
        net,
        x,
        ber,
        layers=_layers(layers),
        storage=storage,
        keep=keep,
        width=width,
        timeout=timeout,
    )

    def human() -> None:
        rows = _head(net, doc["label"])
        rows += [
            (
                "P(changed)" if keep is None else f"P(not {keep})",
                f"[{doc['lo']:.6g}, {doc['hi']:.6g}] (width {doc['width']:.2g})",
            ),
            ("method", doc["method"]),
        ]
        if doc["status"] != "ok":
            rows.append(("stopped", doc["reason"]))
        show(rows)

    emit(doc, as_json, human)
    if doc["status"] != "ok":
        sys.exit(EXIT_UNKNOWN)


DEFAULT_BERS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@faults.command(name="simulate")
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", type=click.Path(), help="One input (label: its class).")
@click.option(
    "--images",
    type=click.IntRange(min=1, max=10000),
    help="Or the first N MNIST test images (the model's preprocessing; true labels).",
)
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option(
    "--ber",
    "bers",
    type=Finite(0, 1),
    multiple=True,
    help="Bit error rate (repeatable; default 1e-5 .. 1e-1 by decades).",
)
@click.option("--trials", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--path",
    type=click.Choice(["auto", "triton", "int8", "float32", "packed"]),
    default="auto",
    show_default=True,
    help="The inference kernel.",
)
@click.option("--exact", is_flag=True, help="Also the rigorous intervals (faults rate).")
@click.option("--png", type=click.Path(), help="Plot accuracy against BER (log axis).")
@click.option("--layers", help="Faulty layers, 0-based (default: all).")
@STORAGE
@click.option("--timeout", type=Finite(min=0, min_open=True), help="Give up after this.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def simulate_command(
    model,
    input_file,
    images,
    data_dir,
    bers,
    trials,
    seed,
    path,
    exact,
    png,
    layers,
    storage,
    timeout,
    as_json,
    quiet,
) -> None:
    """Accuracy under random weight faults on the fast kernels, with Wilson intervals (and,
    with --exact, the rigorous intervals beside them)."""
    import time

    import numpy as np

    from ..analyses.faults import exact_accuracy, simulate
    from ..formats import load_model
    from ..semantics import classify
    from .common import check_output

    if (input_file is None) == (images is None):
        raise click.UsageError("give exactly one of --input FILE or --images N")
    if png is not None:
        check_output(png, "--png")
    net = load_model(model)
    if input_file is not None:
        x = load_center(net, input_file, None)[None, :]
        y = np.array([int(classify(net, x[0]))])
    else:
        from ..data import load_mnist, model_inputs

        raw, labels = load_mnist("test", data_dir)
        x, _ = model_inputs(net, raw[:images])
        y = labels[:images]
    ps = list(bers) or list(DEFAULT_BERS)
    t0 = time.perf_counter()
    lay = _layers(layers)
    doc = with_bar(
        "simulate",
        quiet,
        simulate,
        net,
        x,
        y,
        ps,
        trials=trials,
        seed=seed,
        path=path,
        layers=lay,
        storage=storage,
        timeout=timeout,
    )
    doc["exact"] = []
    if exact:
        for p in ps:
            left = None if timeout is None else timeout - (time.perf_counter() - t0)
            if left is not None and left <= 0:
                doc["status"] = "unknown"
                break
            doc["exact"].append(
                with_bar(
                    f"exact at BER {p:g}",
                    quiet,
                    exact_accuracy,
                    net,
                    x,
                    y,
                    p,
                    layers=lay,
                    storage=storage,
                    timeout=left,
                )
            )
    if png is not None:
        from ..plots import draw_fault_curve

        draw_fault_curve(doc["curve"], doc["exact"], png, title=net.name)

    def human() -> None:
        rows = [("model", net.name), ("inputs", doc["inputs"]), ("trials", trials)]
        exact_by = {e["ber"]: e for e in doc["exact"]}
        for r in doc["curve"]:
            line = f"{r['accuracy']:.4f} [{r['lo']:.4f}, {r['hi']:.4f}] simulated"
            e = exact_by.get(r["ber"])
            if e is not None:
                line += f"; exact [{e['lo']:.6f}, {e['hi']:.6f}]"
            rows.append((f"BER {r['ber']:g}", line))
        if doc["inferences_per_second"]:
            rows.append(("throughput", f"{doc['inferences_per_second']:.3g} inferences/s"))
        show(rows)

    emit(doc, as_json, human)
    if doc["status"] != "ok":
        sys.exit(EXIT_UNKNOWN)


COMMANDS = [faults]
