"""What every command shares: error handling, options, regions, progress, rendering."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click
import numpy as np

from ..engines import Capability, names
from ..errors import Bdd4bnnError, one_line
from ..formats import load_indices, load_input, load_raw_image
from ..model import BNN
from ..region import Region

COUNT_ENGINES = names(Capability.COUNT)
FIND_ENGINES = names(Capability.FIND)
EXACT_COUNT_ENGINES = names(Capability.COUNT, Capability.EXACT)

EXIT_ADVERSARIAL = 1
EXIT_BAD_INPUT = 2
EXIT_UNKNOWN = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it
SCHEMA = 1  # version of every JSON document the command line prints


class Finite(click.FloatRange):
    """A float option that must be finite (click's FloatRange lets NaN and ±inf through:
    every comparison with NaN is false) and within its range."""

    name = "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = click.types.FloatParamType.convert(self, value, param, ctx)
        if not np.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def fail(message: str, as_json: bool = False) -> None:
    """Print one error line on stderr (and, under ``--json``, an error object on stdout);
    exit 2."""
    message = one_line(message)
    click.echo(f"bdd4bnn: error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"schema": SCHEMA, "status": "error", "error": message}))
    sys.exit(EXIT_BAD_INPUT)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bdd4bnn's errors into one line on stderr (a JSON error object on stdout under
    ``--json``) and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except Bdd4bnnError as exc:
            fail(str(exc), as_json)
        except click.BadParameter as exc:
            if as_json:
                fail(exc.format_message(), True)
            raise
        except RecursionError:  # pragma: no cover - defensive
            fail("input too deep to process", as_json)

    return wrapper


def check_output(path: str | None, what: str, suffixes: tuple[str, ...] = ()) -> None:
    """Check, before any work, that ``path`` can be written: its folder exists and is
    writable, it is not a folder, and it ends with one of ``suffixes`` (when given)."""
    if path is None:
        return
    import os
    from pathlib import Path

    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise click.BadParameter(f"{path}: expected a {' / '.join(suffixes)} file", param_hint=what)
    if p.is_dir():
        raise click.BadParameter(f"{path} is a folder", param_hint=what)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise click.BadParameter(f"{parent}: no such folder", param_hint=what)
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise click.BadParameter(f"{path}: not writable", param_hint=what)


def _exit_past_compilation(code: object) -> None:
    """Exit at once (output flushed, with a note pointing to ``bdd4bnn compile``) while a
    compilation a time limit left behind still runs in a daemon thread: the interpreter's
    shutdown would tear LLVM down under it (a crash after the answer)."""
    from .. import jit

    if jit.compiling():
        import os

        click.echo(
            "bdd4bnn: note: numba was still compiling an inner loop when the limit hit, and "
            "its work is lost; run 'bdd4bnn compile' once to build the loops ahead of queries",
            err=True,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))


class Cli(click.Group):
    """The command group: Ctrl-C exits 130, an unexpected error exits 4 with one line (set
    BDD4BNN_DEBUG=1 for the traceback); the documented codes stay for the verdicts. Usage
    errors (bad options, values out of range) are one line too, exit 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kw: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kw)
        try:
            self._standalone(*args, **kw)
        except SystemExit as done:
            _exit_past_compilation(done.code)
            raise

    def _standalone(self, *args: Any, **kw: Any) -> None:
        try:
            code = super().main(*args, standalone_mode=False, **kw)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"bdd4bnn: error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"bdd4bnn: error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("bdd4bnn: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        import os

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("bdd4bnn: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # the reader went away (| head): stop quietly, as tools do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            if os.environ.get("BDD4BNN_DEBUG"):
                raise
            click.echo(
                f"bdd4bnn: internal error: {type(exc).__name__}: {one_line(exc)} "
                "(please report it; BDD4BNN_DEBUG=1 shows the traceback)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)


def limit_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every analysis command shares: --timeout, --max-nodes, --backend,
    --json, --quiet."""
    options = [
        click.option(
            "--timeout",
            type=Finite(min=0, min_open=True),
            help="Give up after this many seconds (unknown).",
        ),
        click.option(
            "--max-nodes", type=click.IntRange(min=1), help="Give up past this many live BDD nodes."
        ),
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


def region_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --input, --radius, --free, --target, --timeout, --max-nodes, --json."""
    options = [
        click.argument("model", type=click.Path()),
        click.option(
            "--input",
            "input_file",
            type=click.Path(),
            help="Input file: 0/1 or -1/+1 values (whitespace/comma separated, or a JSON array).",
        ),
        click.option(
            "--image",
            type=click.Path(),
            help="Or a raw image (.npy, .png, or text of raw values), binarized by the "
            "model's input quantizer (or its recorded MNIST preprocessing).",
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
    ]
    for option in reversed(options):
        fn = option(fn)
    return limit_options(fn)


def load_center(model: BNN, input_file: str | None, image: str | None) -> np.ndarray:
    """Return the ±1 input of ``--input`` or of a raw ``--image`` (exactly one)."""
    if (input_file is None) == (image is None):
        raise click.UsageError("give exactly one of --input FILE or --image FILE")
    if not model.is_binary:
        raise click.UsageError(
            f"{model.name} is a multi-level network: give a raw --image with --linf EPS"
        )
    if input_file is not None:
        return load_input(input_file, model.input_size)
    from ..data import model_inputs

    raw = load_raw_image(image)
    if model.quantizer is not None:
        return model.quantizer.quantize(raw)[0]
    if raw.size != 784:
        raise click.BadParameter(
            f"{raw.size} values: a model without an input quantizer reads 28x28 MNIST images",
            param_hint="--image",
        )
    if (raw != np.round(raw)).any() or (raw < 0).any() or (raw > 255).any():
        raise click.BadParameter("expected grey levels 0..255", param_hint="--image")
    return model_inputs(model, raw.reshape(1, 28, 28).astype(np.uint8))[0][0]


def build_region(
    model: BNN,
    input_file: str | None,
    radius: int | None,
    free_file: str | None,
    image: str | None = None,
) -> Region:
    """Return the region the options describe (exactly one of radius / free is needed)."""
    if radius is None and free_file is None:
        raise click.UsageError("give --radius R, or --free FILE (optionally with --radius R)")
    center = load_center(model, input_file, image)
    if free_file is not None:
        return Region.fixed(center, load_indices(free_file, model.input_size), radius)
    assert radius is not None
    return Region.hamming(center, radius)


def check_limits(timeout: float | None, max_nodes: int | None) -> None:
    if timeout is not None and not (timeout > 0 and np.isfinite(timeout)):
        raise click.BadParameter(
            f"must be a finite number > 0, got {timeout}", param_hint="--timeout"
        )
    if max_nodes is not None and max_nodes <= 0:
        raise click.BadParameter("must be > 0", param_hint="--max-nodes")


class Progress:
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


def with_bar(desc: str, quiet: bool, analysis: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run ``analysis(*args, progress=bar, **kw)`` with a progress bar (the analysis sizes it)."""
    bar = Progress(0, quiet, desc)
    try:
        return analysis(*args, progress=bar, **kw)
    finally:
        bar.close()


def load_region(
    model: str,
    input_file: str | None,
    radius: int | None,
    free_file: str | None,
    image: str | None = None,
    linf: float | None = None,
    linf_float: float | None = None,
    split: bool = False,
):
    """Return (model, region, L∞ ball or None) from the command's file options; with
    ``--image FILE --linf EPS`` (or ``--linf-float EPS``) the region is the ball's (``split``:
    a multi-level ball may come as boxes, ``ball.parts``, which the caller then uses)."""
    from ..formats import load_model
    from ..linf import epsilon_from_unit, linf_ball

    if linf is not None and linf_float is not None:
        raise click.UsageError("give --linf (raw levels) or --linf-float (unit scale), not both")
    if linf is not None or linf_float is not None:
        if image is None:
            raise click.UsageError("--linf needs a raw --image FILE (not --input)")
        if radius is not None or free_file is not None:
            raise click.UsageError("--linf describes the region: drop --radius / --free")
    net = load_model(model)
    if linf_float is not None:
        linf = epsilon_from_unit(net, linf_float)
    if linf is None:
        return net, build_region(net, input_file, radius, free_file, image), None
    ball = linf_ball(net, load_raw_image(image), linf, split=split)
    return (net if ball.model is None else ball.model), ball.region, ball


def scheduler_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--scheduler ADDRESS`` (one query split over a Dask cluster's workers) and
    ``--parts-db FILE`` (finished parts kept there: the same query resumes)."""
    fn = click.option(
        "--parts-db",
        type=click.Path(dir_okay=False),
        help="With --scheduler: keep finished parts in this SQLite file; rerun to resume.",
    )(fn)
    return click.option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786): split the region over its workers.",
    )(fn)


@contextlib.contextmanager
def cluster(scheduler: str | None, parts_db: str | None) -> Iterator[dict[str, Any]]:
    """Yield the keyword arguments that send an analysis to ``--scheduler`` (none without
    one); the client closes on exit."""
    if scheduler is None:
        if parts_db is not None:
            raise click.UsageError("--parts-db keeps the parts of a --scheduler query")
        yield {}
        return
    from ..analyses.distributed import connect

    client = connect(scheduler)
    try:
        yield {"client": client, "store": parts_db}
    finally:
        client.close()


def linf_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--linf EPS`` and ``--linf-float EPS``: the L∞ ball of raw inputs around
    ``--image``, in raw units or on the unit scale."""
    fn = click.option(
        "--linf-float",
        type=Finite(0, 1),
        help="The same ball with EPS on the [0, 1] scale (uint8: raw/255, so 0.1 is "
        "25 whole levels).",
    )(fn)
    return click.option(
        "--linf",
        type=Finite(min=0),
        help="L∞ ball around --image: every raw value moved by at most EPS raw levels "
        "(clipped to the raw range); needs the model's input quantizer.",
    )(fn)


def show(rows: list[tuple[str, object]]) -> None:
    """Print aligned ``key: value`` lines."""
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:  # names come from files: escaped for the terminal
        click.echo(f"{key + ':':<{width}}{one_line(value, limit=10_000)}")


def head(net: BNN, region: Region | None, label: int) -> list[tuple[str, object]]:
    """Return the model / region / label lines every analysis prints first."""
    sizes = "-".join(map(str, net.layer_sizes))
    return [
        ("model", f"{net.name} ({sizes})"),
        ("region", region.summary() if region else "all inputs"),
        ("label", label),
    ]


def engine_line(res: Any) -> tuple[str, object]:
    why = getattr(res, "engine_reason", None)
    return ("engine", res.engine + (f" ({why})" if why else ""))


def emit(result: dict[str, Any], as_json: bool, human: Callable[[], None]) -> None:
    """Print ``result`` as one JSON object (with ``schema``), or call ``human``."""
    if as_json:
        click.echo(json.dumps({"schema": SCHEMA} | result))
    else:
        human()


def render(
    res: Any,
    net: BNN,
    region: Region | None,
    rows: Callable[[], list[tuple[str, object]]],
    as_json: bool,
    *,
    extra: dict[str, Any] | None = None,
    timed: bool = True,
    verdict_exit: int = 0,
) -> None:
    """Print a result (JSON, or the head lines, ``rows()`` and engine/time lines) and exit
    with its code: 3 when unknown, else ``verdict_exit`` (0 or 1)."""
    out = res.to_json() | {"model": net.name} | (extra or {})

    def human() -> None:
        lines = head(net, region, res.label)
        if region is None:
            lines = lines[::2]  # model, label
        if res.status != "ok":
            lines.append(("result", f"UNKNOWN ({res.reason})"))
        lines += rows()
        if timed:
            if hasattr(res, "engine_reason"):
                lines.append(engine_line(res))
            lines.append(("time", f"{res.seconds:.3f} s"))
        show(lines)

    emit(out, as_json, human)
    if res.status != "ok":
        sys.exit(EXIT_UNKNOWN)
    if verdict_exit:
        sys.exit(verdict_exit)
