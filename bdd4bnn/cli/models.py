"""Commands about models, data and set-up: train, eval, dataset-input, info, compile."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import one_line
from ..formats import load_model
from .common import Finite, check_output, emit, fail, friendly_errors


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


@click.command()
@click.option("--arch", required=True, help="Layer sizes, input first: e.g. 100-50-20-10.")
@click.option(
    "--size", type=click.IntRange(min=1), required=True, help="Input image side s (s*s pixels)."
)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=2), default=128, show_default=True)
@click.option(
    "--lr",
    type=Finite(min=0, min_open=True),
    default=1e-2,
    show_default=True,
    help="Adam learning rate.",
)
@click.option(
    "--threshold",
    type=Finite(0, 1),
    default=None,
    help="Binarization threshold of the preprocessing (default 0.4).",
)
@click.option("--ternary", is_flag=True, help="Weights in {-1, 0, +1} (threshold 0.7*mean|w|).")
@click.option(
    "--activations",
    type=click.Choice(["binary", "ternary"]),
    default="binary",
    show_default=True,
    help="Hidden activations: sign, or GXNOR's {-1, 0, +1} (multi-step discretization).",
)
@click.option(
    "--bits",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="Hidden activation bits: 2..4 give the signed levels -2^(b-1)..2^(b-1)-1.",
)
@click.option("--limit", type=click.IntRange(min=2), help="Train on the first N images only.")
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Where to write the model: .json, or .npz (bit-packed, for large networks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@friendly_errors
def train(
    arch,
    size,
    epochs,
    seed,
    batch_size,
    lr,
    threshold,
    ternary,
    activations,
    bits,
    limit,
    data_dir,
    out,
    as_json,
) -> None:
    """Train a BNN on MNIST (straight-through estimator, Adam) and save it as JSON."""
    from dataclasses import replace

    from ..data import DEFAULT_THRESHOLD, load_mnist, preprocess, preprocessing_spec, raw_quantizer
    from ..formats import save_model
    from ..model import InputQuantizer

    try:
        from ..training import TrainConfig, evaluate, from_torch
        from ..training import train as train_bnn
    except ImportError:
        fail("training needs PyTorch: pip install -c constraints.txt -e '.[train]'")
    check_output(out, "--out", (".json", ".npz"))
    if activations == "ternary" and bits != 1:
        raise click.UsageError("give --activations ternary or --bits B, not both")
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
        sizes,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        ternary=ternary,
        activations=activations,
        bits=bits,
    )
    module = train_bnn(cfg, x_train, yi, x_test, ty, on_epoch=on_epoch)
    acc = evaluate(module, x_test, ty)
    meta = {
        "name": Path(out).stem,  # the user names the model by its file
        "preprocessing": preprocessing_spec(size, th),
        "training": {
            "epochs": epochs,
            "seed": seed,
            "batch_size": batch_size,
            "lr": lr,
            "train_images": len(x_train),
            "test_accuracy": acc,
            "ternary": ternary,
            "activations": activations,
            "bits": bits,
        },
    }
    net = from_torch(module, meta)
    quantizer = raw_quantizer(size, th)
    if quantizer is not None:  # a per-pixel rule on raw values: the model's input section
        net = replace(net, quantizer=InputQuantizer.checked(net.input_size, quantizer))
    save_model(net, out)
    res = {"out": out, "test_accuracy": acc, "history": history}
    emit(res, as_json, lambda: click.echo(f"saved {out}: test accuracy {acc:.4f}"))


@click.command(name="eval")
@click.argument("model", type=click.Path())
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def eval_(model, data_dir, split, as_json) -> None:
    """Accuracy of a model on MNIST with the model's own preprocessing."""
    from ..data import accuracy

    net = load_model(model)
    out = {"model": net.name} | accuracy(net, split, data_dir)
    emit(
        out,
        as_json,
        lambda: click.echo(
            f"{net.name}: accuracy {out['accuracy']:.4f} on {out['n']} {split} images "
            f"({out['correct']} correct)"
        ),
    )


@click.command(name="dataset-input")
@click.option("--index", type=click.IntRange(min=0), required=True, help="Image index.")
@click.option("--size", type=click.IntRange(min=1), help="Image side s (or take it from --model).")
@click.option("--model", type=click.Path(), help="Use this model's preprocessing.")
@click.option("--threshold", type=Finite(0, 1), help="Binarization threshold (default 0.4).")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--data-dir", type=click.Path(), help="Folder of the MNIST IDX files.")
@click.option("--out", required=True, type=click.Path(), help="Input file to write.")
@friendly_errors
def dataset_input(index, size, model, threshold, split, data_dir, out) -> None:
    """Write MNIST image INDEX as an input file (0/1 values, one image row per line)."""
    from pathlib import Path

    from ..data import DEFAULT_THRESHOLD, input_text, load_mnist, model_inputs, preprocess

    check_output(out, "--out")
    net = None
    if model is not None:
        net = load_model(model)
    elif size is None:
        raise click.UsageError("give --size or --model")
    else:
        th = DEFAULT_THRESHOLD if threshold is None else threshold
    images, labels = load_mnist(split, data_dir)
    if index >= len(images):
        raise click.BadParameter(f"{index} >= {len(images)} images", param_hint="--index")
    if net is not None:
        xs, size = model_inputs(net, images[index : index + 1])
        x = xs[0]
    else:
        x = preprocess(images[index : index + 1], size, th)[0]
    Path(out).write_text(input_text(x, size))
    click.echo(f"wrote {out}: {split} image {index}, label {int(labels[index])}, {size}x{size}")


@click.command()
@click.argument("model", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def info(model, as_json) -> None:
    """Describe a model: layers, sizes, parameter count."""
    net = load_model(model)
    out = net.describe()
    layers = out["layers"]

    def human() -> None:
        click.echo(f"model:      {one_line(out['name'])}")
        click.echo(f"layers:     {'-'.join(map(str, net.layer_sizes))}")
        click.echo(f"parameters: {net.num_parameters}")
        q = out["input_quantizer"]
        levels_in = out["input_levels"]
        if q is not None:
            th = q["threshold"]
            if levels_in != [-1, 1]:
                rule = f"levels {levels_in} at raw thresholds " + (
                    f"{th}" if not isinstance(th[0], list) else "per pixel"
                )
                click.echo(f"input:      {q['raw']} {q['low']}..{q['high']}, {rule}")
            else:
                rule = (
                    f"raw >= {th}" if not isinstance(th, list) else "raw >= a per-pixel threshold"
                )
                click.echo(f"input:      {q['raw']} {q['low']}..{q['high']}, +1 iff {rule}")
        elif levels_in != [-1, 1]:
            click.echo(f"input:      levels {levels_in}")
        for block, layer in zip(net.blocks, layers, strict=False):
            head = f"  block {layer['index']}: {layer['in']} -> {layer['out']}"
            if not block.is_sign:
                click.echo(f"{head}, integer thresholds, levels {layer['levels']}")
                continue
            bn = f"batch norm (eps={layer['eps']:g})" if layer["batch_norm"] else "no batch norm"
            click.echo(f"{head}, {bn}, sign")
        for layer in layers:
            if layer["kind"] == "block":
                continue
            else:
                click.echo(f"  output:  {layer['in']} -> {layer['out']} classes, argmax")

    emit(out, as_json, human)


@click.command(name="compile")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def compile_(as_json) -> None:
    """Build the compiled inner loops (subtree walk, top-down BDDs) once, ahead of queries.

    numba compiles them on their first use on a machine and caches the result; a query whose
    --timeout runs out while they still compile leaves no cache behind. Run this once after
    installing (or after an upgrade) where first queries hit their limits."""
    from ..engines.warm import compile_loops

    try:
        done = compile_loops()
    except ImportError as exc:
        fail(str(exc), as_json)
    emit(
        {"status": "ok", "loops": [{"loop": n, "seconds": round(t, 3)} for n, t in done]},
        as_json,
        lambda: click.echo("\n".join(f"{n}: ready in {t:.1f} s" for n, t in done)),
    )


COMMANDS = [train, eval_, dataset_input, info, compile_]
