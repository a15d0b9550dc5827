"""Exact (or, on request, approximate) per-class counting over a region."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..errors import LimitReached, RegionError
from ..limits import Budget, call_within
from ..model import BNN
from ..region import Region
from ..semantics import classify
from . import approx
from .compile import compile_region
from .engines import BDD_NODE_CEILING, COUNT_ENGINES, choose_count
from .enumeration import enum_counts
from .results import CountResult

__all__ = ["count", "check_targets", "adversarial_classes"]


def check_targets(model: BNN, targets: Sequence[int] | None) -> list[int] | None:
    """Validate target classes (None means every class)."""
    if targets is None:
        return None
    out = sorted({int(t) for t in targets})
    bad = [t for t in out if not 0 <= t < model.num_classes]
    if bad:
        raise RegionError(f"target class {bad[0]} out of range 0..{model.num_classes - 1}")
    return out


def adversarial_classes(label: int, num_classes: int, targets: list[int] | None) -> list[int]:
    """Return the classes that count as adversarial."""
    classes = range(num_classes) if targets is None else targets
    return [c for c in classes if c != label]


def bdd_counts(
    model: BNN,
    region: Region,
    budget: Budget,
    backend: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[int], str]:
    """Return exact per-class counts from per-class BDDs and how the BDDs were built (raises
    LimitReached)."""
    comp = compile_region(model, region, budget=budget, backend=backend, progress=progress)
    out = []
    for c in range(model.num_classes):
        out.append(comp.class_count(c))
        if progress:
            progress(1)
    budget.peak_nodes = max(budget.peak_nodes, comp.engine.node_count())
    return out, comp.construction()


def count(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    backend: str = "auto",
    progress: Callable[[int], None] | None = None,
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
) -> CountResult:
    """Count the inputs of ``region`` per predicted class.

    ``engine``: "bdd" (exact), "enum" (exact, streaming inference), "approx" (ApproxMC,
    (ε, δ) estimates) or "auto" (see :mod:`bdd4bnn.analyses.engines`). ``adversarial``
    counts inputs classified differently from the centre (only as ``targets`` when given).
    Exact per-class counts are checked to sum to the region's size.
    """
    if engine not in COUNT_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {COUNT_ENGINES}")
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    reason = None
    if engine == "auto":
        engine, reason = choose_count(model, region)
        if engine == "bdd" and max_nodes is None and approx.available():
            budget.max_nodes = BDD_NODE_CEILING
    base = dict(label=label, total=region.size, targets=tg, region=region.describe())
    exact = engine != "approx"
    try:
        try:
            if engine == "enum":
                if hasattr(progress, "start"):  # the CLI bar counts inputs here
                    progress.start(region.size, "input")
                per_class = enum_counts(model, region, budget=budget, progress=progress)
            elif engine == "bdd":
                per_class, how = bdd_counts(model, region, budget, backend, progress)
                reason = f"{reason}; {how}" if reason else how
            else:
                per_class = approx_checked(model, region, epsilon, delta, seed, budget)
        except LimitReached as exc:
            fallback = reason is not None and "node limit" in exc.reason and max_nodes is None
            if not fallback:
                raise
            engine, exact = "approx", False
            reason = f"{reason}; BDDs passed {BDD_NODE_CEILING} nodes: approximate counting"
            per_class = approx_checked(model, region, epsilon, delta, seed, budget)
    except LimitReached as exc:
        return CountResult(
            status="unknown",
            reason=exc.reason,
            engine=engine,
            engine_reason=reason,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )
    if exact and sum(per_class) != region.size:  # pragma: no cover - an internal invariant
        raise AssertionError(f"per-class counts sum to {sum(per_class)}, not {region.size}")
    adv = sum(per_class[c] for c in adversarial_classes(label, model.num_classes, tg))
    return CountResult(
        status="ok",
        per_class=per_class,
        adversarial=adv,
        robust=adv == 0,
        seconds=time.perf_counter() - t0,
        engine=engine,
        engine_reason=reason,
        exact=exact,
        epsilon=None if exact else epsilon,
        delta=None if exact else delta,
        peak_nodes=budget.peak_nodes,
        **base,
    )


def approx_checked(
    model: BNN, region: Region, epsilon: float, delta: float, seed: int, budget: Budget
):
    """Run ApproxMC within the budget's time, with a clear error when it is not installed."""
    if not approx.available():
        raise RegionError("the approximate engine needs pyapproxmc: pip install 'bdd4bnn[approx]'")
    if not (0 < epsilon and 0 < delta < 1):
        raise RegionError(f"epsilon must be > 0 and delta in (0, 1), got {epsilon}, {delta}")
    return call_within(
        budget,
        lambda: approx.approx_counts(model, region, epsilon=epsilon, delta=delta, seed=seed),
    )
