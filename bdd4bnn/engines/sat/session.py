"""SAT engine: yes/no answers with counterexamples, and minimum adversarial distance.

The model is encoded once (:class:`~bdd4bnn.encoders.cnf.CnfEncoder`); per centre, a two-way
counter over the flip literals gives "at most r flips" and "at least r flips" as one assumption
each, and fixed pixels and target classes are assumptions too, so radii, rings and targets
switch without re-encoding.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from pysat.solvers import Solver

from ...encoders.cnf import CnfEncoder
from ...encoders.propagate import propagate
from ...encoders.totalizer import counter
from ...errors import LimitReached
from ...limits import Budget
from ...model import BNN
from ...region import Region

__all__ = ["SatSession", "DEFAULT_SOLVER"]

DEFAULT_SOLVER = "glucose4"  # supports interruption (--timeout); CaDiCaL in PySAT does not
LOAD_CHUNK = 50_000  # clauses loaded into the solver between budget checks


class SatSession:
    """An incremental solver for one model and one envelope region.

    Only what can change inside ``envelope`` is encoded (input propagation); queries are any
    region with the same centre whose free pixels and radius lie within the envelope.
    ``relative``: encode the first block relative to the centre (:class:`CnfEncoder`); None
    lets :func:`bdd4bnn.engines.choose.sat_relative` decide.
    """

    def __init__(
        self,
        model: BNN,
        envelope: Region,
        *,
        solver: str = DEFAULT_SOLVER,
        encoding: str = "auto",
        budget: Budget | None = None,
        relative: bool | None = None,
    ) -> None:
        from .. import choose

        self.model = model
        self.budget = budget
        self.envelope = envelope
        self.center = envelope.center
        if relative is None:
            relative = choose.sat_relative(envelope)
        self.enc = CnfEncoder(
            model,
            encoding,
            folded=propagate(model, envelope, budget),
            budget=budget,
            relative_to=envelope if relative else None,
        )
        pool = self.enc.pool
        flips = self.enc.flip_literals(self.center, envelope.free)
        # flips[t - 1] ↔ at least t pixels differ from the centre (t ≤ radius, and one more
        # to bound the count from above)
        self._flips = counter(flips, envelope.radius + 1, pool, self.enc.clauses)
        self.solver = Solver(name=solver)
        try:  # loading millions of clauses takes seconds: in chunks, within the budget
            clauses = self.enc.clauses
            for i in range(0, len(clauses), LOAD_CHUNK):
                self.solver.append_formula(clauses[i : i + LOAD_CHUNK])
                if budget is not None:
                    budget.check()
        except BaseException:
            self.solver.delete()
            raise
        self._queries: dict[tuple[int, ...], int] = {}

    def close(self) -> None:
        self.solver.delete()

    def __enter__(self) -> SatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _target_literal(self, classes: Sequence[int]) -> int:
        key = tuple(sorted(classes))
        q = self._queries.get(key)
        if q is None:
            q = self.enc.pool.id(("query", key))
            self.solver.add_clause([-q] + [self.enc.selectors[c] for c in key])
            self._queries[key] = q
        return q

    def flips_at_least(self, k: int) -> int:
        """Return the literal "at least ``k`` pixels differ from the centre" (1 ≤ k ≤ the
        envelope's radius + 1, and k ≤ its number of free pixels)."""
        return self._flips[k - 1]

    def assumptions(self, region: Region, classes: Sequence[int]) -> list[int]:
        """Return the assumptions for "an input of ``region`` classified in ``classes``"."""
        env = self.envelope
        free = set(region.free)
        if not region.within(env):
            raise ValueError("query region is not inside the session's envelope")
        out = [
            self.enc.x[i] if region.center[i] > 0 else -self.enc.x[i]
            for i in env.free
            if i not in free
        ]
        if region.radius < len(env.free):
            out.append(-self.flips_at_least(region.radius + 1))
        out.append(self._target_literal(classes))
        return out

    def solve(self, assumptions: list[int], timeout: float | None) -> bool:
        """Solve under ``assumptions``; raise :class:`LimitReached` when ``timeout`` passes."""
        if timeout is None:
            return bool(self.solver.solve(assumptions=assumptions))
        if timeout <= 0:
            raise LimitReached("timeout: time limit exceeded")
        timer = threading.Timer(timeout, self.solver.interrupt)
        timer.start()
        try:
            res = self.solver.solve_limited(assumptions=assumptions, expect_interrupt=True)
        finally:
            timer.cancel()
            self.solver.clear_interrupt()
        if res is None:
            given = (
                timeout
                if self.budget is None or self.budget.timeout is None
                else (self.budget.timeout)
            )
            raise LimitReached(f"timeout: {given:g} s exceeded (in the SAT solver)")
        return bool(res)

    def find(
        self,
        region: Region,
        classes: Sequence[int],
        timeout: float | None = None,
        flip: Sequence[int] = (),
        distance: int | None = None,
    ) -> np.ndarray | None:
        """Return an input of ``region`` classified in ``classes``, or None if there is none.

        ``flip``: pixels that must differ from the centre; ``distance``: exactly this many
        pixels differ (a ring of the region).
        """
        if not classes:
            return None
        extra = [-self.enc.x[i] if self.center[i] > 0 else self.enc.x[i] for i in flip]
        if distance is not None:
            if not 0 <= distance <= region.radius:
                return None
            region = Region.fixed(region.center, region.free, distance)
            if distance > 0:
                extra.append(self.flips_at_least(distance))
        if not self.solve(self.assumptions(region, classes) + extra, timeout):
            return None
        true = set(self.solver.get_model() or [])
        x = self.center.copy()
        for i in self.envelope.free:
            x[i] = 1 if self.enc.x[i] in true else -1
        return x
