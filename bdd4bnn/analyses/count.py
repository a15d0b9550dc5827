"""Exact counting and verification over a region with per-class BDDs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .compile import compile_region

__all__ = ["CountResult", "VerifyResult", "count", "verify", "check_targets"]


@dataclass
class CountResult:
    """Per-class counts over a region (``status`` is "ok" or "unknown")."""

    status: str
    label: int
    total: int
    per_class: list[int] | None = None
    adversarial: int | None = None
    robust: bool | None = None
    targets: list[int] | None = None
    seconds: float = 0.0
    engine: str = "bdd"
    peak_nodes: int = 0
    reason: str | None = None
    region: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyResult:
    """Robust, or one adversarial input re-checked by concrete inference."""

    status: str
    label: int
    robust: bool | None = None
    counterexample: list[int] | None = None
    counterexample_class: int | None = None
    found_by: str | None = None  # "sampling" or "bdd" when a counterexample was found
    targets: list[int] | None = None
    seconds: float = 0.0
    engine: str = "bdd"
    peak_nodes: int = 0
    reason: str | None = None
    region: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_targets(model: BNN, targets: Sequence[int] | None) -> list[int] | None:
    """Validate target classes (None means every class)."""
    if targets is None:
        return None
    out = sorted({int(t) for t in targets})
    bad = [t for t in out if not 0 <= t < model.num_classes]
    if bad:
        raise RegionError(f"target class {bad[0]} out of range 0..{model.num_classes - 1}")
    return out


def _adversarial_classes(label: int, n: int, targets: list[int] | None) -> list[int]:
    classes = range(n) if targets is None else targets
    return [c for c in classes if c != label]


def count(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    timeout: float | None = None,
    max_nodes: int | None = None,
    backend: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> CountResult:
    """Count, exactly and per class, the inputs of ``region`` by predicted class.

    ``adversarial`` counts inputs classified differently from the centre (restricted to
    ``targets`` when given). Per-class counts are checked to sum to the region's size.
    """
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    base = dict(label=label, total=region.size, targets=tg, region=region.describe())
    try:
        comp = compile_region(model, region, budget=budget, backend=backend, progress=progress)
        per_class = []
        for c in range(model.num_classes):
            per_class.append(comp.class_count(c))
            if progress:
                progress(1)
    except LimitReached as exc:
        return CountResult(
            status="unknown",
            reason=exc.reason,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )
    if sum(per_class) != region.size:  # pragma: no cover - an internal invariant
        raise AssertionError(f"per-class counts sum to {sum(per_class)}, not {region.size}")
    adv = sum(per_class[c] for c in _adversarial_classes(label, model.num_classes, tg))
    return CountResult(
        status="ok",
        per_class=per_class,
        adversarial=adv,
        robust=adv == 0,
        seconds=time.perf_counter() - t0,
        peak_nodes=max(budget.peak_nodes, comp.engine.node_count()),
        **base,
    )


def verify(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    timeout: float | None = None,
    max_nodes: int | None = None,
    backend: str = "auto",
    progress: Callable[[int], None] | None = None,
    samples: int = 2048,
) -> VerifyResult:
    """Decide whether every input of ``region`` keeps the centre's class.

    First ``samples`` uniform samples of the region go through concrete inference (a cheap,
    sound falsifier); if none is adversarial, per-class BDDs decide, stopping at the first
    non-empty adversarial class. Every counterexample is re-checked by
    :func:`bdd4bnn.semantics.classify`.
    """
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    base = dict(label=label, targets=tg, region=region.describe())
    wanted = set(_adversarial_classes(label, model.num_classes, tg))
    if samples > 0 and wanted:
        xs = region.sample(min(samples, region.size))
        hits = np.flatnonzero(np.isin(classify(model, xs), list(wanted)))
        if hits.size:
            x = xs[hits[0]]
            return VerifyResult(
                status="ok",
                robust=False,
                counterexample=[int(v) for v in x],
                counterexample_class=int(classify(model, x)),
                found_by="sampling",
                seconds=time.perf_counter() - t0,
                **base,
            )
    try:
        comp = compile_region(model, region, budget=budget, backend=backend, progress=progress)
        for c in _adversarial_classes(label, model.num_classes, tg):
            u = comp.class_bdd(c)
            if progress:
                progress(1)
            if u != comp.engine.false:
                x = counterexample(region, comp.engine.pick(u))
                got = int(classify(model, x))
                if got != c or not region.contains(x)[0]:  # pragma: no cover - invariant
                    raise AssertionError("BDD counterexample failed concrete re-check")
                return VerifyResult(
                    status="ok",
                    robust=False,
                    counterexample=[int(v) for v in x],
                    counterexample_class=got,
                    found_by="bdd",
                    seconds=time.perf_counter() - t0,
                    peak_nodes=budget.peak_nodes,
                    **base,
                )
    except LimitReached as exc:
        return VerifyResult(
            status="unknown",
            reason=exc.reason,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )
    return VerifyResult(
        status="ok",
        robust=True,
        seconds=time.perf_counter() - t0,
        peak_nodes=budget.peak_nodes,
        **base,
    )


def counterexample(region: Region, assignment: dict[int, bool] | None) -> np.ndarray:
    """Complete a partial assignment with the centre's values (staying inside the region)."""
    x = region.center.copy()
    for i, v in (assignment or {}).items():
        x[i] = 1 if v else -1
    return x
