"""Compile a model over a region into one BDD per output class (BDD4BNN, CAV 2021).

Two constructions build the same (canonical) BDDs; ``method="auto"`` tries the first and falls
back to the second:

* **top-down** (:mod:`bdd4bnn.engines.bdd.topdown`): Shannon expansion of the free pixels in the
  BDD's variable order, where three-valued bounds on the neurons decide whole subtrees; gives up
  past :data:`~bdd4bnn.engines.bdd.topdown.TREE_NODES_MAX` undecided nodes (or, for "auto",
  :data:`TOPDOWN_SECONDS` of expansion).
* **bottom-up** (``"compose"``), described below.

Bottom-up, block by block, each neuron becomes a Card over the previous layer; neurons whose value
is fixed on the region (by the literal-count range) become constants and are folded into the
next block's thresholds (input propagation); the rest become BDDs over the input pixels, by the
region-aware grid for the first block and by functional composition (``ite`` on the grid) for
later ones. Identical constraints are built once. Each class is the conjunction of its output
Cards (smallest first) and the region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import jit
from ...encoders.bdd import BddManager
from ...encoders.constraints import Card
from ...encoders.propagate import propagate
from ...errors import LimitReached
from ...limits import Budget
from ...model import BNN
from ...region import Region
from . import topdown

__all__ = ["CompiledRegion", "compile_region", "METHODS"]

METHODS = ("auto", "topdown", "compose")
TOPDOWN_SECONDS = 2.0  # auto: the longest top-down expansion before composing bottom-up

Progress = Callable[[int], None]


@dataclass
class CompiledRegion:
    """A model over a region, ready for per-class BDDs.

    Top-down, every class BDD is built at once (and kept in the class cache); bottom-up, the
    last hidden layer's BDDs are kept and each class is conjoined from them on request.
    """

    model: BNN
    region: Region
    engine: BddManager
    region_bdd: Any
    method: str  # "topdown" or "compose"
    last_known: np.ndarray | None = None  # compose: ±1 for constant last-layer neurons, else 0
    last_funcs: list[Any] | None = None  # compose: BDD per neuron of the last hidden layer
    unstable: list[int] = field(default_factory=list)  # unstable neurons per block
    classes: list[list[Card]] | None = None  # compose: per class, propagation's folded Cards
    tree_nodes: int | None = None  # top-down: undecided nodes expanded (None: not tried)
    _cache: dict[int, Any] = field(default_factory=dict)

    def construction(self) -> str:
        """Say how the BDDs were built (for ``engine_reason``)."""
        if self.method == "topdown":
            return f"BDDs built top-down, {self.tree_nodes:,} undecided nodes"
        if self.tree_nodes is None:
            return "BDDs composed block by block"
        return f"BDDs composed block by block, top-down gave up after {self.tree_nodes:,} nodes"

    def class_bdd(self, cls: int) -> Any:
        """Return the BDD of the inputs of the region that the model classifies as ``cls``."""
        if cls in self._cache:
            return self._cache[cls]
        eng = self.engine
        assert self.last_known is not None and self.last_funcs is not None
        assert self.classes is not None
        cards = [c.fold(self.last_known) for c in self.classes[cls]]
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
    method: str = "auto",
    tree_nodes_max: int = topdown.TREE_NODES_MAX,
) -> CompiledRegion:
    """Compile ``model`` over ``region`` (see the module docstring).

    ``method``: "topdown", "compose" or "auto" (top-down when numba is installed, bottom-up
    past ``tree_nodes_max`` undecided nodes or :data:`TOPDOWN_SECONDS` of expansion: where the
    bounds decide little, composition may be the faster of the two; node costs measured in
    benchmarks/RESULTS.md). ``progress`` is called with neurons done.
    """
    if method not in METHODS:
        raise ValueError(f"unknown compilation method {method!r}; choose from {METHODS}")
    prop = propagate(model, region, budget)
    eng = BddManager(model.input_size, backend=backend, budget=budget)
    region_bdd = eng.region_bdd(region)
    tried = None
    if method == "topdown" or (method == "auto" and jit.available()):
        stats: dict[str, int] = {}
        classes = topdown.compile_classes(
            prop.blocks,
            prop.classes,
            prop.known[0],
            region,
            eng,
            eng.budget,
            cap=tree_nodes_max,
            stats=stats,
            seconds=TOPDOWN_SECONDS if method == "auto" else None,
        )
        tried = stats["tree_nodes"]
        if classes is not None:
            if progress:
                progress(sum(len(b) for b in prop.blocks))
            return CompiledRegion(
                model,
                region,
                eng,
                region_bdd,
                "topdown",
                unstable=prop.unstable,
                tree_nodes=tried,
                _cache=classes,
            )
        if method == "topdown":
            raise LimitReached(
                f"node limit: top-down compilation passed {tree_nodes_max} undecided nodes",
                kind="nodes",
            )
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
    return CompiledRegion(
        model, region, eng, region_bdd, "compose", known, funcs, prop.unstable, prop.classes, tried
    )
