"""Commands that ask questions of a model over a region: count, verify, radius, explain,
crosscheck."""

from __future__ import annotations

import click

from ..analyses.count import count as count_region
from ..analyses.count import count_linf
from ..analyses.explain import KINDS, class_graph
from ..analyses.explain import explain as explain_decision
from ..analyses.radius import radius as radius_of
from ..analyses.radius import radius_linf
from ..analyses.verify import verify as verify_region
from ..analyses.verify import verify_linf
from ..formats import load_model, load_raw_image
from ..kernels.predict import PATHS
from ..plots import draw_explanations
from ..region import Region
from .common import (
    COUNT_ENGINES,
    EXACT_COUNT_ENGINES,
    EXIT_ADVERSARIAL,
    FIND_ENGINES,
    Finite,
    check_limits,
    check_output,
    cluster,
    friendly_errors,
    limit_options,
    linf_option,
    load_center,
    load_region,
    region_options,
    render,
    scheduler_option,
    with_bar,
)


@click.command()
@region_options
@linf_option
@click.option(
    "--engine",
    type=click.Choice(COUNT_ENGINES),
    default="auto",
    show_default=True,
    help="bdd / enum (exact), approx (ApproxMC), auto (chosen by a documented rule).",
)
@click.option(
    "--approx-epsilon",
    type=Finite(min=0, min_open=True),
    default=0.8,
    show_default=True,
    help="ApproxMC tolerance: estimates within a (1+eps) factor...",
)
@click.option(
    "--approx-delta",
    type=Finite(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="...with probability at least 1 - delta.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="ApproxMC seed.")
@scheduler_option
@friendly_errors
def count(
    model,
    input_file,
    image,
    linf,
    linf_float,
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
    scheduler,
    parts_db,
) -> None:
    """Count, exactly and per class, the inputs of a region by predicted class.

    With --image FILE --linf EPS: the raw inputs within EPS of the image, per class both as
    binary patterns and as raw images (exact integers), and the adversarial share.
    """
    check_limits(timeout, max_nodes)
    net, region, ball = load_region(
        model, input_file, radius, free_file, image, linf, linf_float, split=True
    )
    with cluster(scheduler, parts_db) as on:
        res = with_bar(
            "count",
            quiet,
            count_region if ball is None else count_linf,
            net,
            region if ball is None else ball,
            engine=engine,
            approx_epsilon=approx_epsilon,
            approx_delta=approx_delta,
            seed=seed,
            targets=targets or None,
            timeout=timeout,
            max_nodes=max_nodes,
            backend=backend,
            **on,
        )

    def rows() -> list[tuple[str, object]]:
        if res.status != "ok":
            if res.per_class_lower is None:
                return []
            cells = "  ".join(f"{c}: {n}" for c, n in enumerate(res.per_class_lower) if n)
            found = "NOT robust" if res.robust is False else "none found yet"
            return [
                ("settled", f"{res.settled} of {res.total} ({res.settled / res.total:.4%})"),
                ("per class >=", cells or "-"),
                ("adversarial >=", f"{res.adversarial_lower} -> {found}"),
            ]
        assert res.per_class is not None and res.adversarial is not None
        cells = "  ".join(f"{c}: {n}" for c, n in enumerate(res.per_class) if n)
        approx = "" if res.exact else f" (ApproxMC, eps={res.epsilon}, delta={res.delta})"
        verdict = "robust" if res.robust else "NOT robust"
        share = f"{res.adversarial / res.total:.4%}"
        out = [
            ("per class", cells + approx),
            ("adversarial", f"{res.adversarial} of {res.total} ({share}) -> {verdict}"),
        ]
        if res.per_class_images is not None:
            imgs = "  ".join(f"{c}: {_short(n)}" for c, n in enumerate(res.per_class_images) if n)
            out += [
                ("raw images", f"{_short(res.total_images)} in the L∞ ball; per class {imgs}"),
                (
                    "adversarial",
                    f"{_short(res.adversarial_images)} raw images = {res.adversarial_share} "
                    f"({res.adversarial_share_float:.6g})",
                ),
            ]
        return out

    render(res, net, region, rows, as_json)


@click.command()
@region_options
@linf_option
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
@scheduler_option
@friendly_errors
def verify(
    model,
    input_file,
    image,
    linf,
    linf_float,
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
    scheduler,
    parts_db,
) -> None:
    """Decide whether every input of a region keeps the input's class.

    Exit code 0: robust; 1: an adversarial input was found (printed, re-checked by concrete
    inference); 3: unknown.
    """
    check_limits(timeout, max_nodes)
    net, region, ball = load_region(
        model, input_file, radius, free_file, image, linf, linf_float, split=True
    )
    with cluster(scheduler, parts_db) as on:
        res = with_bar(
            "verify",
            quiet,
            verify_region if ball is None else verify_linf,
            net,
            region if ball is None else ball,
            engine=engine,
            targets=targets or None,
            timeout=timeout,
            max_nodes=max_nodes,
            backend=backend,
            samples=samples,
            **on,
        )

    def rows() -> list[tuple[str, object]]:
        if res.status != "ok":
            return []
        if res.robust:
            return [("result", "ROBUST (no input of the region changes the class)")]
        return [
            (
                "result",
                f"NOT ROBUST: flipping pixels {res.flipped} gives class "
                f"{res.counterexample_class} (found by {res.found_by}, re-checked by inference)",
            )
        ]

    adversarial = res.status == "ok" and not res.robust
    extra = None
    if ball is not None:
        extra = {"region": ball.describe(), "counterexample_image": res.raw_counterexample}
    render(
        res,
        net,
        region,
        rows,
        as_json,
        extra=extra,
        verdict_exit=EXIT_ADVERSARIAL if adversarial else 0,
    )


@click.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", type=click.Path(), help="Input file.")
@click.option(
    "--image", type=click.Path(), help="Or a raw image (.npy, .png, text) for --norm linf."
)
@click.option(
    "--norm",
    type=click.Choice(["hamming", "linf"]),
    default="hamming",
    show_default=True,
    help="hamming: pixels flipped; linf: raw levels every pixel may move (needs --image and "
    "the model's input quantizer).",
)
@click.option(
    "--max", "max_radius", type=click.IntRange(min=0), help="Largest radius to try (default: n)."
)
@click.option(
    "--epsilon",
    type=Finite(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Tolerated share of misclassified inputs in each ball.",
)
@click.option("--engine", type=click.Choice(FIND_ENGINES), default="auto", show_default=True)
@click.option(
    "--scheduler",
    help="Dask scheduler address (tcp://host:8786): verify whole balls over its workers.",
)
@limit_options
@friendly_errors
def radius(
    model,
    input_file,
    image,
    norm,
    max_radius,
    epsilon,
    engine,
    scheduler,
    timeout,
    max_nodes,
    as_json,
    backend,
    quiet,
) -> None:
    """Find the robustness radius: the largest safe Hamming distance of an input, or with
    --norm linf the largest L∞ distance (in raw levels) of a raw image."""
    check_limits(timeout, max_nodes)
    net = load_model(model)
    if norm == "linf":
        if image is None or input_file is not None:
            raise click.UsageError("--norm linf needs a raw --image FILE (not --input)")
        if epsilon:
            raise click.UsageError("--epsilon applies to Hamming radii only")
        with cluster(scheduler, None) as on:
            res = with_bar(
                "radius",
                quiet,
                radius_linf,
                net,
                load_raw_image(image),
                max_epsilon=max_radius,
                engine=engine,
                timeout=timeout,
                max_nodes=max_nodes,
                backend=backend,
                **{k: v for k, v in on.items() if k == "client"},
            )
    else:
        center = load_center(net, input_file, image)
        if max_radius is None:
            region = Region.everything(center)
        else:
            region = Region.hamming(center, max_radius)
        with cluster(scheduler, None) as on:
            res = with_bar(
                "radius",
                quiet,
                radius_of,
                net,
                region,
                epsilon=epsilon,
                engine=engine,
                timeout=timeout,
                max_nodes=max_nodes,
                backend=backend,
                **{k: v for k, v in on.items() if k == "client"},
            )
    unit = " raw levels" if norm == "linf" else ""

    def rows() -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        if res.status != "ok":
            out.append(("proven", f"{res.radius_lower} <= radius < {res.radius_upper or 'n/a'}"))
        elif res.max_reached:
            out.append(("radius", f"{res.radius}{unit} (the bound: no failure up to it)"))
        else:
            out.append(
                (
                    "radius",
                    f"{res.radius}{unit} (an input at distance {res.radius + 1} is classified "
                    f"{res.counterexample_class})",
                )
            )
        if epsilon:
            out.append(("epsilon", epsilon))
        return out

    render(res, net, None, rows, as_json)


@click.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", type=click.Path(), help="Input file.")
@click.option(
    "--image", type=click.Path(), help="Or a raw image, binarized by the model's own rule."
)
@linf_option
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
@limit_options
@friendly_errors
def explain(
    model,
    input_file,
    image,
    linf,
    linf_float,
    radius,
    free_file,
    kind,
    k,
    engine,
    png,
    dot,
    timeout,
    max_nodes,
    as_json,
    quiet,
    backend,
) -> None:
    """Explain a decision: prime-implicant explanations, essential and necessary features.

    Without --radius, --free or --linf, explanations hold over all inputs; with --image FILE
    --linf EPS, over the raw images within EPS of the image (the free-pixel region they
    binarize to).
    """
    check_limits(timeout, max_nodes)
    check_output(png, "--png", (".png",))
    check_output(dot, "--dot", (".dot", ".gv", ".graphml"))
    if radius is not None or free_file is not None or linf is not None or linf_float is not None:
        net, region, ball = load_region(
            model, input_file, radius, free_file, image, linf, linf_float
        )
        if ball is not None and ball.source is not None and ball.pixels is not None:
            if net.input_size != ball.source.input_size:
                raise click.UsageError(
                    "explain: explanations over pixels with more than two levels (several "
                    "thermometer bits each) are not supported yet"
                )
        center = region.center
    else:
        net, region = load_model(model), None
        center = load_center(net, input_file, image)
    res = with_bar(
        "explain",
        quiet,
        explain_decision,
        net,
        region or Region.everything(center),
        kind=kind,
        count=k,
        engine=engine,
        timeout=timeout,
        max_nodes=max_nodes,
        backend=backend,
    )
    extra: dict[str, str] = {}
    if png and res.status == "ok":
        draw_explanations(
            center,
            res.explanations,
            res.essential,
            png,
            title=f"{net.name}: class {res.label}",
        )
        extra["png"] = png
    if dot and res.status == "ok":
        import networkx as nx

        graph = class_graph(
            net, region or Region.everything(center), timeout=timeout, max_nodes=max_nodes
        )
        if str(dot).endswith(".graphml"):
            nx.write_graphml(graph, dot)
        else:
            nx.nx_pydot.write_dot(graph, dot)
        extra["dot"] = dot

    def rows() -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = [
            (f"explanation {j + 1}", f"{e} ({len(e)} pixels)")
            for j, e in enumerate(res.explanations)
        ]
        if res.num_explanations is not None:
            out.append(("PI explanations in all", res.num_explanations))
        if res.essential is not None:
            out += [
                ("essential", f"{res.essential} (same value in every input of the class)"),
                ("necessary", f"{res.necessary} (in every PI explanation)"),
            ]
        return out

    render(res, net, region, rows, as_json, extra=extra)


@click.command()
@click.argument("model", type=click.Path())
@click.option("--input", "input_file", type=click.Path(), help="Input file.")
@click.option(
    "--image", type=click.Path(), help="Or a raw image (.npy, .png, text) for --linf EPS."
)
@click.option("--radius", type=int, help="Hamming radius (with --free: max flips in it).")
@click.option("--free", "free_file", type=click.Path(), help="Only these pixels may change.")
@linf_option
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
    type=click.Choice(PATHS),
    default="auto",
    show_default=True,
    help="The concrete inference path.",
)
@click.option(
    "--confidence",
    type=Finite(0, 1, min_open=True, max_open=True),
    default=0.999,
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True)
@limit_options
@friendly_errors
def crosscheck(
    model,
    input_file,
    image,
    radius,
    free_file,
    linf,
    linf_float,
    samples,
    exhaustive,
    engine,
    path,
    confidence,
    seed,
    timeout,
    max_nodes,
    as_json,
    quiet,
    backend,
) -> None:
    """Cross-check formal per-class counts with fast concrete inference.

    With --image FILE --linf EPS the region is the L∞ ball's binary patterns; for a
    multi-level network the engines count its thermometer form and the concrete pass
    classifies the network itself on the level patterns.

    Exit code 0: consistent; 1: inconsistent; 3: the formal engine hit a limit.
    """
    from ..analyses.crosscheck import crosscheck as run_crosscheck

    check_limits(timeout, max_nodes)
    if exhaustive == (samples is not None):
        raise click.UsageError("give exactly one of --samples N or --exhaustive")
    if not 0 < confidence < 1:
        raise click.BadParameter("must lie in (0, 1)", param_hint="--confidence")
    net, region, ball = load_region(model, input_file, radius, free_file, image, linf, linf_float)
    res = with_bar(
        "crosscheck",
        quiet,
        run_crosscheck,
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
        backend=backend,
        source=None if ball is None else ball.source,
    )

    def rows() -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = [
            ("formal", f"{res.formal} ({res.engine}, {res.formal_seconds:.3f} s)"),
            (
                "observed",
                f"{res.observed} ({res.mode}, {res.samples} inputs, path "
                f"{res.path}, {res.concrete_seconds:.3f} s)",
            ),
        ]
        if res.consistent is not None:
            out.append(("result", "consistent" if res.consistent else "INCONSISTENT"))
        return out

    inconsistent = res.consistent is False
    render(
        res,
        net,
        region,
        rows,
        as_json,
        timed=False,
        verdict_exit=EXIT_ADVERSARIAL if inconsistent else 0,
    )


COMMANDS = [count, verify, radius, explain, crosscheck]


def _short(n: int) -> str:
    """Return an integer as is up to 15 digits, else as d.dddd·10^k (JSON keeps it exact)."""
    digits = str(n)
    if len(digits) <= 15:
        return digits
    return f"{digits[0]}.{digits[1:5]}e+{len(digits) - 1} (exact in --json)"
