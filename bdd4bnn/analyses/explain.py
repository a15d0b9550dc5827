"""Explanations of a decision: prime-implicant (sufficient-reason) explanations and essential
features, exact, within a region or over all inputs.

For an input u with class c and a region R (all inputs when none is given), a set S of the
region's free pixels is *sufficient* when every input of R that agrees with u on S is
classified c, and a *PI explanation* when it is sufficient and no single pixel can be dropped.

BDD engine. With g = R ∧ ¬class_c (the region's other-class inputs) and selector variables
s_i ("pixel i is kept"), the sufficient sets form the monotone function
Suff(s) = ¬∃x. g(x) ∧ ⋀_i (s_i → x_i = u_i), built in one memoised pass over g's nodes
(at a node on x_i: ite(s_i, T(u_i-child), T(low) ∨ T(high))). Its minimal points are exactly
the PI explanations: Min = Suff ∧ ⋀_i (s_i → ¬Suff|s_i=0), which is enumerated and counted;
the shortest explanation is a minimum-weight path of Suff. A pixel is *necessary* (in every
PI explanation) iff dropping it alone from all pixels is insufficient, and *essential* iff
every input of R classified c agrees with u on it (the literals implied by the class BDD).

SAT engine (for regions whose BDDs are too big): a PI explanation by deletion, one
incremental query per pixel; essential pixels by one query each.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .compile import compile_region
from .sat import DEFAULT_SOLVER, SatSession

__all__ = ["ExplainResult", "explain", "class_graph", "KINDS"]

KINDS = ("pi", "shortest", "essential")


@dataclass
class ExplainResult:
    """Explanations (lists of pixel indices), essential and necessary pixels."""

    status: str
    label: int
    kind: str
    explanations: list[list[int]] = field(default_factory=list)
    values: list[list[int]] = field(default_factory=list)  # u's value at each listed pixel
    essential: list[int] | None = None
    necessary: list[int] | None = None
    num_explanations: int | None = None  # all PI explanations (BDD engine)
    region: dict[str, Any] = field(default_factory=dict)
    engine: str = "bdd"
    seconds: float = 0.0
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Explainer:
    """What both engines share: everything follows from ``sufficient`` over ``free``."""

    free: list[int]

    def sufficient(self, keep: set[int]) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def greedy(self, order: Sequence[int]) -> list[int]:
        """Return a PI explanation: drop pixels in ``order`` while what is kept suffices."""
        keep = set(self.free)
        for i in order:
            keep.discard(i)
            if not self.sufficient(keep):
                keep.add(i)
        return sorted(keep)

    def necessary(self) -> list[int]:
        """Return the pixels without which the rest is insufficient (in every PI)."""
        full = set(self.free)
        return [i for i in self.free if not self.sufficient(full - {i})]


class _BddExplainer(_Explainer):
    def __init__(self, model, region, label, budget, backend="auto"):
        self.comp = compile_region(model, region, budget=budget, backend=backend)
        self.eng = self.comp.engine
        self.region = region
        self.free = list(region.free)
        self.center = region.center
        self.f = self.comp.class_bdd(label)  # class ∧ region
        self.bad = self.comp.region_bdd & ~self.f
        self.s = self.eng.selectors()
        self.suff = ~self._project(self.bad)
        budget.check()

    def _project(self, g):
        eng, s, center = self.eng, self.s, self.center
        memo: dict[int, Any] = {}

        def t(u):
            if u == eng.true or u == eng.false:
                return u
            key = int(u)
            hit = memo.get(key)
            if hit is None:
                i, lo, hi = eng.cofactors(u)
                keep = t(hi if center[i] > 0 else lo)
                hit = eng.ite(s[i], keep, t(lo) | t(hi))
                memo[key] = hit
                if len(memo) % 256 == 0:
                    eng.budget.check()
            return hit

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4 * eng.n + 1000))
        try:
            return t(g)
        finally:
            sys.setrecursionlimit(limit)
            memo.clear()
            t = None  # type: ignore[assignment]  # break the closure's self-reference

    def sufficient(self, keep: set[int]) -> bool:
        values = {f"s{i}": (i in keep) for i in self.free}
        return self.eng.bdd.let(values, self.suff) == self.eng.true

    def minimal(self):
        bdd, m = self.eng.bdd, self.suff
        for i in self.free:
            m = m & (~self.s[i] | ~bdd.let({f"s{i}": False}, self.suff))
            self.eng.budget.check()
        return m

    def enumerate(self, k: int) -> tuple[list[list[int]], int]:
        m = self.minimal()
        care = {f"s{i}" for i in self.free}
        total = self.eng.count(m, 2 * self.eng.n) >> (2 * self.eng.n - len(self.free))
        out = []
        for assignment in self.eng.bdd.pick_iter(m, care_vars=care):
            out.append(sorted(int(v[1:]) for v, val in assignment.items() if val))
            if len(out) >= k:
                break
        return sorted(out, key=lambda e: (len(e), e)), total

    def shortest(self) -> list[int]:
        eng = self.eng
        memo: dict[int, tuple[float, list[int]]] = {}

        def best(u):  # fewest kept pixels on a path to TRUE
            if u == eng.true:
                return 0, []
            if u == eng.false:
                return float("inf"), []
            key = int(u)
            if key not in memo:
                i, lo, hi = eng.cofactors(u)  # i: the selector's pixel (variable s{i})
                c0, p0 = best(lo)
                c1, p1 = best(hi)
                memo[key] = (c0, p0) if c0 <= c1 + 1 else (c1 + 1, [i, *p1])
            return memo[key]

        try:
            cost, path = best(self.suff)
        finally:
            best = None  # type: ignore[assignment]  # break the closure's self-reference
        assert cost != float("inf"), "the full input is always sufficient"
        return sorted(path)

    def essential(self) -> list[int]:
        eng, out = self.eng, []
        for i in self.free:
            other = ~eng.var(i) if self.center[i] > 0 else eng.var(i)
            if (self.f & other) == eng.false:
                out.append(i)
        return out


class _SatExplainer(_Explainer):
    def __init__(self, model, region, label, solver, budget):
        self.session = SatSession(model, region, solver=solver, budget=budget)
        self.model, self.region, self.label, self.budget = model, region, label, budget
        self.free = list(region.free)
        self.others = [c for c in range(model.num_classes) if c != label]

    def _left(self):
        t = self.budget.timeout
        return None if t is None else t - self.budget.elapsed()

    def sufficient(self, keep: set[int]) -> bool:
        free = [i for i in self.region.free if i not in keep]
        sub = Region.fixed(self.region.center, free, min(self.region.radius, len(free)))
        return self.session.find(sub, self.others, timeout=self._left()) is None

    def essential(self) -> list[int]:
        out = []
        for i in self.free:
            x = self.session.find(self.region, [self.label], timeout=self._left(), flip=[i])
            if x is None:
                out.append(i)
        return out

    def close(self):
        self.session.close()


def explain(
    model: BNN,
    center: np.ndarray,
    region: Region | None = None,
    *,
    kind: str = "pi",
    count: int = 1,
    engine: str = "bdd",
    timeout: float | None = None,
    max_nodes: int | None = None,
    solver: str = DEFAULT_SOLVER,
    backend: str = "auto",
) -> ExplainResult:
    """Explain the class of ``center`` within ``region`` (all inputs when None).

    ``kind``: "pi" (up to ``count`` PI explanations, shortest first), "shortest" (a minimum
    one) or "essential" (essential and necessary pixels only). ``engine``: "bdd" or "sat"
    (SAT gives one PI explanation by deletion; "shortest" and ``count`` > 1 need BDDs).
    """
    if kind not in KINDS:
        raise RegionError(f"kind {kind!r}: choose from {', '.join(KINDS)}")
    if engine not in ("bdd", "sat"):
        raise RegionError(f"engine {engine!r}: choose bdd or sat")
    if count < 1:
        raise RegionError(f"--count must be >= 1, got {count}")
    if engine == "sat" and (kind == "shortest" or count > 1):
        raise RegionError("shortest and several explanations need --engine bdd")
    if region is None:
        region = Region.hamming(center, len(center))
    t0 = time.perf_counter()
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    res = ExplainResult(
        status="ok", label=label, kind=kind, region=region.describe(), engine=engine
    )
    # drop the pixels that matter least first: those far from the decision (stable order)
    order = list(region.free)[::-1]
    ex: Any = None
    try:
        if engine == "bdd":
            ex = _BddExplainer(model, region, label, budget, backend)
        else:
            ex = _SatExplainer(model, region, label, solver, budget)
        if kind == "pi":
            if engine == "bdd":
                res.explanations, res.num_explanations = ex.enumerate(count)
            else:
                res.explanations = [ex.greedy(order)]
        elif kind == "shortest":
            res.explanations = [ex.shortest()]
        res.essential = ex.essential()
        res.necessary = ex.necessary()
    except LimitReached as exc:
        res.status, res.reason = "unknown", exc.reason
    finally:
        if isinstance(ex, _SatExplainer):
            ex.close()
        ex = None
    res.values = [[int(region.center[i]) for i in e] for e in res.explanations]
    res.seconds = time.perf_counter() - t0
    return res


def class_graph(
    model: BNN,
    region: Region,
    cls: int | None = None,
    *,
    timeout: float | None = None,
    max_nodes: int | None = None,
    backend: str = "auto",
) -> Any:
    """Return the BDD of class ``cls`` (default: the centre's) restricted to ``region``,
    as a networkx DiGraph (complement edges expanded)."""
    label = int(classify(model, region.center)) if cls is None else cls
    comp = compile_region(model, region, budget=Budget(timeout, max_nodes), backend=backend)
    graph = comp.engine.to_networkx(comp.class_bdd(label))
    graph.graph["class"] = label
    return graph
