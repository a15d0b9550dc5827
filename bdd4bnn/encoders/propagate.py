"""Input propagation: which neurons can change inside a region, shared by every engine.

Block by block, each neuron's Card is folded with what is already known (fixed pixels, then
constant neurons of the previous block); in the first block, the literal-count range over the
region (:meth:`Region.literal_range`) decides neurons that cannot change. The result is, per
block, a list of Cards over the previous layer where constants are ``Card.const``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..limits import Budget
from ..model import BNN
from ..region import Region
from .constraints import Card, class_constraints, neuron_constraint

__all__ = ["Propagation", "propagate"]


@dataclass(frozen=True)
class Propagation:
    """Folded Cards per block and per class, and the known (±1) / unknown (0) values."""

    inputs_known: np.ndarray  # ±1 for fixed pixels, 0 for free ones
    blocks: list[list[Card]]  # per block, per neuron: Card over the previous layer (folded)
    known: list[np.ndarray]  # per block: ±1 for constant neurons, 0 otherwise
    classes: list[list[Card]]  # per class: folded Cards over the last hidden layer

    @property
    def unstable(self) -> list[int]:
        return [int((k == 0).sum()) for k in self.known]


def propagate(model: BNN, region: Region, budget: Budget | None = None) -> Propagation:
    """Fold the region into every block (see the module docstring), checking ``budget``
    between neurons (a 2048-wide block takes seconds)."""
    if region.n != model.input_size:
        raise ValueError(f"region has {region.n} pixels, model expects {model.input_size}")
    known = region.center.astype(np.int8).copy()
    known[list(region.free)] = 0
    inputs_known = known
    blocks, knowns = [], []
    for b, block in enumerate(model.blocks):
        cards = []
        new_known = np.zeros(block.out_size, dtype=np.int8)
        for j in range(block.out_size):
            if budget is not None:
                budget.check()
            card = neuron_constraint(block, j).fold(known)
            if b == 0 and not card.is_const:
                lo, hi = region.literal_range(card.idx, card.pos)
                if card.k <= lo:
                    card = Card.const(True)
                elif card.k > hi:
                    card = Card.const(False)
            if card.is_const:
                new_known[j] = 1 if card.is_true else -1
            cards.append(card)
        blocks.append(cards)
        knowns.append(new_known)
        known = new_known
    classes = [
        [c.fold(known) for c in class_constraints(model.output, cls)]
        for cls in range(model.num_classes)
    ]
    return Propagation(inputs_known, blocks, knowns, classes)
