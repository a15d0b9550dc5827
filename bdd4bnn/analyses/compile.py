"""Compile a model over a region into one BDD per output class (BDD4BNN, CAV 2021).

Block by block, each neuron becomes a Card over the previous layer; neurons whose value is
fixed on the region (by the literal-count range) become constants and are folded into the next
block's thresholds (input propagation); the rest become BDDs over the input pixels, by the
region-aware grid for the first block and by functional composition (``ite`` on the grid) for
later ones. Identical constraints are built once. Each class is the conjunction of its output
Cards (smallest first) and the region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..encoders.bdd import BddEngine
from ..encoders.constraints import Card, class_constraints
from ..limits import Budget
from ..model import BNN
from ..region import Region
from .propagate import propagate

__all__ = ["CompiledRegion", "compile_region"]

Progress = Callable[[int], None]


@dataclass
class CompiledRegion:
    """The hidden layers of a model over a region, ready for per-class BDDs."""

    model: BNN
    region: Region
    engine: BddEngine
    region_bdd: Any
    last_known: np.ndarray  # ±1 for constant neurons of the last hidden layer, 0 otherwise
    last_funcs: list[Any]  # BDD per neuron of the last hidden layer (constants included)
    unstable: list[int] = field(default_factory=list)  # unstable neurons per block
    _cache: dict[int, Any] = field(default_factory=dict)

    def class_bdd(self, cls: int) -> Any:
        """Return the BDD of the inputs of the region that the model classifies as ``cls``."""
        if cls in self._cache:
            return self._cache[cls]
        eng = self.engine
        cards = [c.fold(self.last_known) for c in class_constraints(self.model.output, cls)]
        u = eng.true
        if any(c.is_false for c in cards):
            u = eng.false
        else:
            for card in sorted((c for c in cards if not c.is_true), key=len):
                u = u & eng.card_of(card, self.last_funcs)
                eng.budget.check()
                if u == eng.false:
                    break
            u = u & self.region_bdd
        eng.budget.check()
        self._cache[cls] = u
        return u

    def class_count(self, cls: int) -> int:
        """Return the exact number of inputs of the region classified as ``cls``."""
        u = self.class_bdd(cls)
        n_fixed = self.region.n - len(self.region.free)
        return self.engine.count(u) >> n_fixed


def compile_region(
    model: BNN,
    region: Region,
    *,
    budget: Budget | None = None,
    backend: str = "auto",
    progress: Progress | None = None,
) -> CompiledRegion:
    """Compile the hidden layers of ``model`` over ``region`` (see the module docstring)."""
    prop = propagate(model, region)
    eng = BddEngine(model.input_size, backend=backend, budget=budget)
    region_bdd = eng.region_bdd(region)
    known = prop.inputs_known
    funcs: list[Any] = [
        eng.var(i) if known[i] == 0 else (eng.true if known[i] > 0 else eng.false)
        for i in range(model.input_size)
    ]
    for b, cards in enumerate(prop.blocks):
        new_known = prop.known[b].copy()
        new_funcs: list[Any] = []
        built: dict[Card, Any] = {}
        for j, card in enumerate(cards):
            # constants from propagation, or from an earlier neuron's BDD turning out constant
            card = card.fold(known)
            if card.is_const:
                new_known[j] = 1 if card.is_true else -1
                new_funcs.append(eng.true if card.is_true else eng.false)
            else:
                f = built.get(card)
                if f is None:
                    f = eng.card_in_region(card, region) if b == 0 else eng.card_of(card, funcs)
                    built[card] = f
                if f == eng.true or f == eng.false:
                    new_known[j] = 1 if f == eng.true else -1
                new_funcs.append(f)
            eng.budget.check()
            if progress:
                progress(1)
        known, funcs = new_known, new_funcs
    return CompiledRegion(model, region, eng, region_bdd, known, funcs, prop.unstable)
