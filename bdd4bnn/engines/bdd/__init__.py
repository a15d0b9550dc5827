"""The BDD engine: one BDD per output class over the free pixels (BDD4BNN, CAV 2021).

Built top-down or by composing blocks (:mod:`.compile`); exact counts by Python-integer
model counting; inputs picked from the BDDs; the class function serves explanations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...limits import Budget
from ...model import BNN
from ...region import Region
from ..base import DEFAULT_OPTIONS, Capability, Engine, Options, Prepared, Progress

__all__ = ["BddEngine", "BddPrepared"]


class BddPrepared(Prepared):
    name = "bdd"

    def __init__(
        self, model: BNN, envelope: Region, budget: Budget, options: Options, progress: Any
    ) -> None:
        from .compile import compile_region

        super().__init__(model, envelope, budget)
        self.compiled = compile_region(
            model,
            envelope,
            budget=budget,
            backend=options.backend,
            progress=progress,
            method=options.method,
        )
        self.mgr = self.compiled.engine
        self.construction = self.compiled.construction()

    def _restriction(
        self, region: Region | None, distances: Sequence[int] | None, flip: Sequence[int] = ()
    ) -> Any:
        """Return the BDD of ``region`` (rings ``distances``, forced ``flip``) inside the
        envelope, or None when it is the whole envelope."""
        region = self._inside(region)
        env, mgr = self.envelope, self.mgr
        u = None
        if not (region.radius == env.radius and region.free == env.free):
            u = mgr.region_bdd(region)
            for i in sorted(set(env.free) - set(region.free)):
                u = u & mgr.literal(i, region.center[i] > 0)
        if distances is not None:
            ring = mgr.false
            for k in sorted(set(distances)):
                if 0 <= k <= region.radius:
                    inner = mgr.ball(region, k - 1) if k > 0 else mgr.false
                    ring = ring | (mgr.ball(region, k) & ~inner)
            u = ring if u is None else u & ring
        for i in flip:
            lit = mgr.literal(i, region.center[i] < 0)
            u = lit if u is None else u & lit
        return u

    def counts(self, region=None, *, distances=None, progress: Progress | None = None):
        restrict = self._restriction(region, distances)
        out = []
        for c in range(self.model.num_classes):
            if restrict is None:
                out.append(self.compiled.class_count(c))
            else:
                u = self.compiled.class_bdd(c) & restrict
                out.append(self.mgr.count(u) >> (self.envelope.n - len(self.envelope.free)))
            self.budget.check()
            if progress:
                progress(1)
        self.budget.peak_nodes = max(self.budget.peak_nodes, self.mgr.node_count())
        return out

    def find(self, region, classes, *, distances=None, flip=()):
        restrict = self._restriction(region, distances, flip)
        for c in classes:
            u = self.compiled.class_bdd(c)
            if restrict is not None:
                u = u & restrict
            self.budget.check()
            if u != self.mgr.false:
                x = self.envelope.center.copy()
                for i, v in (self.mgr.pick(u) or {}).items():
                    x[i] = 1 if v else -1
                return x
        return None

    def class_function(self, cls: int) -> Any:
        return self.compiled.class_bdd(cls)

    def weighted_counts(self, low, high):
        return [
            self.mgr.weighted_count(self.compiled.class_bdd(c), low, high)
            for c in range(self.model.num_classes)
        ]


class BddEngine(Engine):
    name = "bdd"
    capabilities = frozenset(
        {Capability.COUNT, Capability.FIND, Capability.CLASS_FUNCTION, Capability.EXACT}
    )
    cheap_envelope = False
    summary = "per-class BDDs (top-down, or blocks composed); exact counts, inputs, explanations"

    def prepare(
        self, model, envelope, budget, options=DEFAULT_OPTIONS, progress=None
    ) -> BddPrepared:
        return BddPrepared(model, envelope, budget, options, progress)
