"""The SAT engine: yes/no questions with a witness, over an incremental PySAT session."""

from __future__ import annotations

from ..base import DEFAULT_OPTIONS, Capability, Engine, Options, Prepared

__all__ = ["SatEngine", "SatPrepared"]


class SatPrepared(Prepared):
    name = "sat"

    def __init__(self, model, envelope, budget, options: Options) -> None:
        from .session import SatSession

        super().__init__(model, envelope, budget)
        self.session = SatSession(model, envelope, solver=options.solver, budget=budget)

    def find(self, region, classes, *, distances=None, flip=()):
        region = self._inside(region)
        rings = [None] if distances is None else sorted(set(distances))
        for k in rings:
            x = self.session.find(
                region, classes, timeout=self.budget.remaining(), flip=flip, distance=k
            )
            if x is not None:
                return x
        return None

    def close(self) -> None:
        self.session.close()


class SatEngine(Engine):
    name = "sat"
    capabilities = frozenset({Capability.FIND})
    summary = "incremental SAT (PySAT) on the cardinality CNF: verdicts and inputs, no counts"

    def prepare(
        self, model, envelope, budget, options=DEFAULT_OPTIONS, progress=None
    ) -> SatPrepared:
        return SatPrepared(model, envelope, budget, options)
