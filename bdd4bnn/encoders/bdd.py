"""Cardinality constraints → BDDs, over `dd`'s CUDD backend (pure-Python `dd.autoref` fallback).

Variables are the inputs ``x0 .. x{n-1}`` (true iff the pixel is +1), declared in index order
with dynamic reordering off: measured 2–5× slower on our workloads, and a fixed order keeps
counting and node figures reproducible.

Three constructions, all bottom-up on a grid (never literal-by-literal
conjunction):

* :meth:`BddManager.card_in_region` — a neuron over input pixels, exact on a region and built on
  the grid of (literal, still-needed, flips-used): O(m·r²) nodes for a Hamming ball of radius r
  (don't-care outside the region, which is conjoined once at the end).
* :meth:`BddManager.region_rest` — "at most b of the free pixels from position d on differ from
  the centre": the region itself (d = 0, b = radius), and the rest of it below a node of the
  top-down construction (:mod:`bdd4bnn.engines.bdd.topdown`).
* :meth:`BddManager.card_of` — a cardinality constraint whose literals are BDDs (the next
  block's neurons): the same grid with ``ite`` on the literal BDDs, i.e. functional composition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..limits import Budget, recursion_limit
from ..region import Region, count_range
from .constraints import Card

__all__ = ["BddManager", "available_backends"]

Function = Any  # dd.cudd.Function or dd.autoref.Function


def available_backends() -> list[str]:
    """Return the importable backends, fastest first."""
    out = []
    try:
        import dd.cudd  # noqa: F401

        out.append("cudd")
    except ImportError:  # pragma: no cover - depends on the installed wheel
        pass
    out.append("autoref")
    return out


class BddManager:
    """A BDD manager over ``n`` input variables plus the constructions bdd4bnn needs."""

    def __init__(self, n: int, backend: str = "auto", budget: Budget | None = None) -> None:
        if backend == "auto":
            backend = available_backends()[0]
        if backend == "cudd":
            from dd import cudd

            self.bdd = cudd.BDD()
        elif backend == "autoref":
            from dd import autoref

            self.bdd = autoref.BDD()
        else:
            raise ValueError(f"unknown BDD backend {backend!r}")
        self.backend = backend
        self.bdd.configure(reordering=False)
        self.n = n
        self.names = [f"x{i}" for i in range(n)]
        self.bdd.declare(*self.names)
        self._vars = [self.bdd.var(v) for v in self.names]
        self.true = self.bdd.true
        self.false = self.bdd.false
        self.budget = budget or Budget()
        self._rests: dict[Region, dict[tuple[int, int], Function]] = {}  # see region_rest
        manager = self.bdd  # not a bound method of self: no engine <-> budget cycle
        self.budget.nodes = lambda: len(manager)

    # -- basics -------------------------------------------------------------------------------
    def node_count(self) -> int:
        """Return the number of live nodes in the manager."""
        return len(self.bdd)

    def var(self, i: int) -> Function:
        return self._vars[i]

    def ite(self, g: Function, t: Function, e: Function) -> Function:
        return self.bdd.ite(g, t, e)

    # -- constructions ------------------------------------------------------------------------
    def region_rest(self, region: Region, d: int, b: int) -> Function:
        """Return "at most ``b`` of the free pixels ``free[d:]`` differ from the centre" (exact,
        over those pixels); ``(0, radius)`` is the region itself.

        One grid per region, memoised in the engine: row d, column b is ``ite`` on pixel
        ``free[d]`` of (d + 1, b) kept and (d + 1, b − 1) flipped, built children first with an
        explicit stack (no recursion limit on 784 pixels).
        """
        free, center = region.free, region.center
        memo = self._rests.setdefault(region, {})

        def known(e: int, c: int) -> Function | None:
            if c >= len(free) - e:
                return self.true
            if c < 0:
                return self.false
            return memo.get((e, c))

        stack = [(d, b)]
        while stack:
            e, c = stack[-1]
            if known(e, c) is not None:
                stack.pop()
                continue
            keep, flip = known(e + 1, c), known(e + 1, c - 1)
            if keep is None:
                stack.append((e + 1, c))
            if flip is None:
                stack.append((e + 1, c - 1))
            if keep is None or flip is None:
                continue
            x = self._vars[free[e]]
            memo[(e, c)] = (
                self.ite(x, keep, flip) if center[free[e]] > 0 else self.ite(x, flip, keep)
            )
            stack.pop()
            if len(memo) % 4096 == 0:
                self.budget.check()
        got = known(d, b)
        assert got is not None
        return got

    def card_in_region(self, card: Card, region: Region) -> Function:
        """Return a BDD equal to ``card`` (over input pixels) on every input of ``region``.

        Outside the region the result is unspecified; callers conjoin the region BDD once.
        """
        card = card.fold(_known(region))
        if card.is_const:
            return self.true if card.is_true else self.false
        order = sorted(range(len(card)), key=lambda t: card.idx[t])
        var = [card.idx[t] for t in order]
        # literal true at the centre?
        at_center = [(region.center[card.idx[t]] > 0) == card.pos[t] for t in order]
        m = len(var)
        true_after = [0] * (m + 1)  # literals true at the centre among var[i:]
        for i in range(m - 1, -1, -1):
            true_after[i] = true_after[i + 1] + at_center[i]
        r = region.radius
        memo: dict[tuple[int, int, int], Function] = {}

        def build(i: int, need: int, used: int) -> Function:
            t = true_after[i]  # the literals from i on: t true at the centre, the rest false
            lo, hi = count_range(t, t, (m - i) - t, r - used)
            if need <= lo:
                return self.true
            if need > hi:
                return self.false
            key = (i, need, used)
            hit = memo.get(key)
            if hit is not None:
                return hit
            if at_center[i]:
                keep, flip = build(i + 1, need - 1, used), build(i + 1, need, used + 1)
            else:
                keep, flip = build(i + 1, need, used), build(i + 1, need - 1, used + 1)
            plus = keep if region.center[var[i]] > 0 else flip
            minus = flip if region.center[var[i]] > 0 else keep
            node = self.ite(self._vars[var[i]], plus, minus)
            memo[key] = node
            if len(memo) % 512 == 0:
                self.budget.check()
            return node

        try:
            with recursion_limit(4 * m + 1000):
                return build(0, card.k, 0)
        finally:
            memo.clear()
            build = None  # type: ignore[assignment]  # break the closure's self-reference

    def card_of(self, card: Card, inputs: Sequence[Function]) -> Function:
        """Return "at least k of the literals" where literal t is ``inputs[idx[t]]`` (or ¬)."""
        if card.is_const:
            return self.true if card.is_true else self.false
        lits = [inputs[i] if p else ~inputs[i] for i, p in zip(card.idx, card.pos, strict=True)]
        m, k = len(lits), card.k
        row: dict[int, Function] = {0: self.true}
        for i in range(m - 1, -1, -1):
            g = lits[i]
            new: dict[int, Function] = {0: self.true}
            for j in range(max(1, k - i), min(k, m - i) + 1):
                new[j] = self.ite(g, row.get(j - 1, self.false), row.get(j, self.false))
            row = new
            self.budget.check()
        return row.get(k, self.false)

    def region_bdd(self, region: Region) -> Function:
        """Return the exact BDD of the region (over the free pixels)."""
        return self.region_rest(region, 0, region.radius)

    def ball(self, region: Region, k: int) -> Function:
        """Return "at most ``k`` of the region's free pixels differ from the centre"."""
        if k < 0:
            return self.false
        return self.region_rest(region, 0, min(k, len(region.free)))

    def literal(self, i: int, positive: bool) -> Function:
        """Return the literal "pixel ``i`` is +1" (or −1)."""
        return self._vars[i] if positive else ~self._vars[i]

    def selectors(self) -> list[Function]:
        """Return variables ``s0 .. s{n-1}`` (declared once, below the inputs)."""
        if not hasattr(self, "_selectors"):
            names = [f"s{i}" for i in range(self.n)]
            self.bdd.declare(*names)
            self._selectors = [self.bdd.var(v) for v in names]
        return self._selectors

    def cofactors(self, u: Function) -> tuple[int, Function, Function]:
        """Return (index, low, high) of a non-constant ``u``, complement edges resolved.

        The index is the number in the top variable's name (``x{i}`` or selector ``s{i}``).
        """
        reg = ~u if u.negated else u
        lo, hi = reg.low, reg.high
        if u.negated:
            lo, hi = ~lo, ~hi
        return int(reg.var[1:]), lo, hi

    def to_networkx(self, u: Function) -> Any:
        """Return ``u`` as a networkx DiGraph (nodes: 'T', 'F' and one per BDD node).

        Complement edges are expanded, so the graph is the plain reduced BDD of ``u``.
        """
        import networkx as nx

        g = nx.DiGraph()
        g.add_node("T", label="1", shape="box")
        g.add_node("F", label="0", shape="box")
        names: dict[int, str] = {}

        def name(f: Function) -> str:
            if f == self.true:
                return "T"
            if f == self.false:
                return "F"
            key = int(f)
            if key in names:
                return names[key]
            node = names[key] = f"n{len(names)}"
            var, lo, hi = self.cofactors(f)
            g.add_node(node, label=f"x{var}", var=var)
            g.add_edge(node, name(lo), style="dashed", value=0)
            g.add_edge(node, name(hi), style="solid", value=1)
            return node

        try:
            with recursion_limit(4 * self.n + 1000):
                g.graph["root"] = name(u)
        finally:
            name = None  # type: ignore[assignment]  # break the closure's self-reference
        return g

    # -- queries ------------------------------------------------------------------------------
    def count(self, u: Function, nvars: int | None = None) -> int:
        """Return the exact number of models of ``u`` over the first ``nvars`` levels.

        Python integers, memoised over regular nodes; a complemented edge counts
        ``2^free - count(regular)``; skipped levels multiply by powers of two.
        """
        n = self.n if nvars is None else nvars
        bdd = self.bdd
        true, false = bdd.true, bdd.false
        memo: dict[int, int] = {}

        def level(f: Function) -> int:
            return n if f == true or f == false else f.level

        def models(f: Function) -> int:
            """Models of f over levels [level(f), n)."""
            if f == true:
                return 1
            if f == false:
                return 0
            neg = f.negated
            reg = ~f if neg else f
            key = int(reg)
            c = memo.get(key)
            if c is None:
                lv = reg.level
                lo, hi = reg.low, reg.high
                c = (models(lo) << (level(lo) - lv - 1)) + (models(hi) << (level(hi) - lv - 1))
                memo[key] = c
            return ((1 << (n - reg.level)) - c) if neg else c

        try:
            with recursion_limit(4 * n + 1000):
                return models(u) << level(u)
        finally:
            models = level = None  # type: ignore[assignment]  # break closure cycles

    def weighted_count(self, u: Function, low: Sequence[int], high: Sequence[int]) -> int:
        """Return the sum over models of ``u`` of Π_i (``high[i]`` if x_i else ``low[i]``):
        a weighted model count (Python integers; the same walk as :meth:`count`, a skipped
        level multiplying by ``low[i] + high[i]``)."""
        n, bdd = self.n, self.bdd
        true, false = bdd.true, bdd.false
        at = [0] * n  # input index per level
        for name, lv in bdd.var_levels.items():
            at[lv] = int(name[1:])
        lo_w = [int(low[at[lv]]) for lv in range(n)]
        hi_w = [int(high[at[lv]]) for lv in range(n)]
        suffix = [1] * (n + 1)  # suffix[l] = Π over levels ≥ l of (low + high)
        for lv in range(n - 1, -1, -1):
            suffix[lv] = suffix[lv + 1] * (lo_w[lv] + hi_w[lv])
        memo: dict[int, int] = {}

        def level(f: Function) -> int:
            return n if f == true or f == false else f.level

        def span(a: int, b: int) -> int:  # Π over levels a..b-1
            return suffix[a] // suffix[b] if suffix[b] else _product(lo_w, hi_w, a, b)

        def models(f: Function) -> int:
            """Weighted models of f over levels [level(f), n)."""
            if f == true:
                return 1
            if f == false:
                return 0
            neg = f.negated
            reg = ~f if neg else f
            key = int(reg)
            c = memo.get(key)
            if c is None:
                lv = reg.level
                lo, hi = reg.low, reg.high
                c = lo_w[lv] * models(lo) * span(lv + 1, level(lo)) + hi_w[lv] * models(hi) * span(
                    lv + 1, level(hi)
                )
                memo[key] = c
            return (suffix[reg.level] - c) if neg else c

        try:
            with recursion_limit(4 * n + 1000):
                return models(u) * span(0, level(u))
        finally:
            models = level = None  # type: ignore[assignment]  # break closure cycles

    def pick(self, u: Function) -> dict[int, bool] | None:
        """Return one satisfying assignment {input index: value} (partial), or None."""
        if u == self.false:
            return None
        model = self.bdd.pick(u)
        return {int(name[1:]): bool(val) for name, val in model.items()}


def _known(region: Region) -> Any:
    """Return the centre with free pixels marked unknown (0)."""
    known = region.center.copy()
    known[list(region.free)] = 0
    return known


def _product(low: list[int], high: list[int], a: int, b: int) -> int:
    """Return Π over levels a..b-1 of (low + high) (where a zero weight sum blocks division)."""
    out = 1
    for lv in range(a, b):
        out *= low[lv] + high[lv]
    return out
