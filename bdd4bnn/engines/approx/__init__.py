"""The approximate engine: ApproxMC (pyapproxmc) (ε, δ) estimates of per-class counts, for
regions beyond any exact engine. Not exact: results say ``exact: false``."""

from __future__ import annotations

from ...errors import EngineError, RegionError
from ...limits import Budget, call_within
from ..base import DEFAULT_OPTIONS, Capability, Engine, Options, Prepared

__all__ = ["ApproxEngine", "ApproxPrepared", "available", "DEFAULT_SECONDS"]

DEFAULT_SECONDS = 300.0  # ApproxMC's budget when no time limit is given (it has none of its own)


def available() -> bool:
    """Return whether pyapproxmc is installed."""
    import importlib.util

    return importlib.util.find_spec("pyapproxmc") is not None


class ApproxPrepared(Prepared):
    name = "approx"

    def __init__(self, model, envelope, budget, options: Options) -> None:
        super().__init__(model, envelope, budget)
        if not available():
            raise EngineError("the approximate engine needs pyapproxmc: pip install pyapproxmc")
        eps, delta = options.epsilon, options.delta
        if not (0 < eps < float("inf") and 0 < delta < 1):
            raise RegionError(f"epsilon must be > 0 and delta in (0, 1), got {eps}, {delta}")
        self.options = options
        if budget.timeout is None:
            self.construction = f"no time limit given: ApproxMC runs at most {DEFAULT_SECONDS:g} s"

    def counts(self, region=None, *, distances=None, progress=None):
        from .counter import approx_counts

        region = self._inside(region)
        if distances is not None:
            raise EngineError("the approximate engine counts whole regions, not rings")
        o = self.options
        budget = self.budget if self.budget.timeout is not None else Budget(DEFAULT_SECONDS)
        return call_within(
            budget,
            lambda: approx_counts(
                self.model, region, epsilon=o.epsilon, delta=o.delta, seed=o.seed
            ),
        )


class ApproxEngine(Engine):
    name = "approx"
    capabilities = frozenset({Capability.COUNT})
    summary = "ApproxMC (ε, δ) estimates of per-class counts (not exact)"

    def prepare(self, model, envelope, budget, options=DEFAULT_OPTIONS, progress=None):
        return ApproxPrepared(model, envelope, budget, options)
