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

Any engine that finds inputs (SAT, enumeration; for regions whose BDDs are too big): a PI
explanation by deletion, one query per pixel; essential pixels by one query each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engines import Capability, Options, get
from ..engines import choose as choose_engine
from ..errors import LimitReached, RegionError
from ..limits import Budget, recursion_limit
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .common import Engines, Progress, as_progress, check_binary, check_limits
from .results import Result, Status

__all__ = ["ExplainResult", "explain", "class_graph", "KINDS"]

KINDS = ("pi", "shortest", "essential")


@dataclass
class ExplainResult(Result):
    """Explanations (lists of pixel indices), essential and necessary pixels."""

    status: Status
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
    def __init__(self, prepared: Any, label: int) -> None:
        self.comp = prepared.compiled
        self.eng = self.comp.engine
        self.region = region = prepared.envelope
        self.free = list(region.free)
        self.center = region.center
        self.f = prepared.class_function(label)  # class ∧ region
        self.bad = self.comp.region_bdd & ~self.f
        self.s = self.eng.selectors()
        self.suff = ~self._project(self.bad)
        prepared.budget.check()

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

        try:
            with recursion_limit(4 * eng.n + 1000):
                return t(g)
        finally:
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


class _FindExplainer(_Explainer):
    """Explanations from any engine that finds inputs (one PI explanation by deletion)."""

    def __init__(self, prepared: Any, label: int) -> None:
        self.prepared = prepared
        self.region = prepared.envelope
        self.label = label
        self.free = list(self.region.free)
        self.others = [c for c in range(prepared.model.num_classes) if c != label]

    def sufficient(self, keep: set[int]) -> bool:
        free = [i for i in self.region.free if i not in keep]
        sub = Region.fixed(self.region.center, free, min(self.region.radius, len(free)))
        return self.prepared.find(sub, self.others) is None

    def essential(self) -> list[int]:
        return [i for i in self.free if self.prepared.find(None, [self.label], flip=[i]) is None]


def explain(
    model: BNN,
    region: Region,
    *,
    kind: str = "pi",
    count: int = 1,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    solver: str = "glucose4",
    backend: str = "auto",
) -> ExplainResult:
    """Explain the class of ``region.center`` within ``region`` (:meth:`Region.everything`
    for all inputs).

    ``kind``: "pi" (up to ``count`` PI explanations, shortest first), "shortest" (a minimum
    one) or "essential" (essential and necessary pixels only). ``engine``: "bdd" (every kind),
    any other engine that finds inputs (one PI explanation by deletion), or "auto".

    >>> from bdd4bnn import Region, explain, load_model
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> res = explain(net, Region.fixed([1] * 100, range(8)), kind="shortest")
    >>> res.status, res.explanations
    ('ok', [[0, 2, 3, 6]])
    """
    check_limits(timeout, max_nodes)
    check_binary(model)
    if kind not in KINDS:
        raise RegionError(f"kind {kind!r}: choose from {', '.join(KINDS)}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise RegionError(f"count must be an integer >= 1, got {count!r}")
    choice = choose_engine.for_explain(kind, count, engine)
    caps = choose_engine.capability_for_explain(kind, count)
    eng = get(choice.engine, Capability.FIND)
    if not eng.can(*caps):
        raise RegionError(
            "shortest and several explanations need --engine bdd (the class function)"
        )
    t0 = time.perf_counter()
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    if max_nodes is None and choice.node_ceiling is not None:
        budget.max_nodes = choice.node_ceiling
    res = ExplainResult(
        status="ok", label=label, kind=kind, region=region.describe(), engine=choice.engine
    )
    bar = as_progress(progress)
    # drop the pixels that matter least first: those far from the decision (stable order)
    order = list(region.free)[::-1]
    try:
        with Engines(model, budget, Options(backend=backend, solver=solver)) as engines:
            prepared = engines.prepare(choice.engine, region, Capability.FIND)
            ex: _Explainer
            if eng.can(Capability.CLASS_FUNCTION):
                ex = _BddExplainer(prepared, label)
            else:
                ex = _FindExplainer(prepared, label)
            bar.start(3, "step")
            if kind == "pi":
                if isinstance(ex, _BddExplainer):
                    res.explanations, res.num_explanations = ex.enumerate(count)
                else:
                    res.explanations = [ex.greedy(order)]
            elif kind == "shortest":
                res.explanations = [ex.shortest()]  # type: ignore[attr-defined]
            bar(1)
            res.essential = ex.essential()
            bar(1)
            res.necessary = ex.necessary()
            bar(1)
            ex = None  # type: ignore[assignment]
    except LimitReached as exc:
        res.status, res.reason = "unknown", exc.reason
        if exc.kind == "nodes" and max_nodes is None:
            res.reason += " (the default ceiling for explanations; --max-nodes raises it)"
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
    check_limits(timeout, max_nodes)
    check_binary(model)
    budget = Budget(timeout, max_nodes)
    with Engines(model, budget, Options(backend=backend)) as engines:
        prepared = engines.prepare("bdd", region, Capability.CLASS_FUNCTION)
        graph = prepared.mgr.to_networkx(prepared.class_function(label))
    graph.graph["class"] = label
    return graph
