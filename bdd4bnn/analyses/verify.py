"""Verification: does every input of a region keep the centre's class?"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import LimitReached
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .compile import compile_region
from .count import adversarial_classes, check_targets
from .engines import VERIFY_ENGINES, choose_verify
from .enumeration import enum_find
from .results import VerifyResult
from .sat import DEFAULT_SOLVER, SatSession

__all__ = ["verify", "counterexample"]


def counterexample(region: Region, assignment: dict[int, bool] | None) -> np.ndarray:
    """Complete a partial assignment with the centre's values (staying inside the region)."""
    x = region.center.copy()
    for i, v in (assignment or {}).items():
        x[i] = 1 if v else -1
    return x


def _bdd_find(model, region, classes, budget, backend, progress):
    comp = compile_region(model, region, budget=budget, backend=backend, progress=progress)
    for c in classes:
        u = comp.class_bdd(c)
        if progress:
            progress(1)
        if u != comp.engine.false:
            return counterexample(region, comp.engine.pick(u))
    return None


def verify(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    backend: str = "auto",
    solver: str = DEFAULT_SOLVER,
    progress: Callable[[int], None] | None = None,
    samples: int = 2048,
) -> VerifyResult:
    """Decide whether every input of ``region`` keeps the centre's class.

    First ``samples`` uniform samples go through concrete inference (a sound falsifier); then
    ``engine`` ("bdd", "sat", "enum" or "auto") decides. Every counterexample is re-checked by
    :func:`bdd4bnn.semantics.classify` before it is returned.
    """
    if engine not in VERIFY_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {VERIFY_ENGINES}")
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    reason = None
    if engine == "auto":
        engine, reason = choose_verify(model, region)
    wanted = adversarial_classes(label, model.num_classes, tg)
    base = dict(
        label=label, targets=tg, region=region.describe(), engine=engine, engine_reason=reason
    )

    def done(x: np.ndarray | None, found_by: str) -> VerifyResult:
        if x is None:
            return VerifyResult(
                status="ok",
                robust=True,
                seconds=time.perf_counter() - t0,
                peak_nodes=budget.peak_nodes,
                **base,
            )
        got = int(classify(model, x))
        if got not in wanted or not region.contains(x)[0]:  # pragma: no cover - invariant
            raise AssertionError(f"{found_by} counterexample failed the concrete re-check")
        return VerifyResult(
            status="ok",
            robust=False,
            counterexample=[int(v) for v in x],
            counterexample_class=got,
            found_by=found_by,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )

    if not wanted:
        return done(None, engine)
    if samples > 0:
        xs = region.sample(min(samples, region.size))
        hits = np.flatnonzero(np.isin(classify(model, xs), wanted))
        if hits.size:
            return done(xs[hits[0]], "sampling")
    try:
        if engine == "enum":
            x = enum_find(model, region, wanted, budget=budget)
        elif engine == "sat":
            with SatSession(model, region, solver=solver, budget=budget) as session:
                remaining = None if timeout is None else timeout - budget.elapsed()
                x = session.find(region, wanted, timeout=remaining)
        else:
            x = _bdd_find(model, region, wanted, budget, backend, progress)
    except LimitReached as exc:
        return VerifyResult(
            status="unknown",
            reason=exc.reason,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )
    return done(x, engine)
