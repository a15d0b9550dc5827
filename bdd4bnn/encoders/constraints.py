"""Neurons and output classes as cardinality constraints.

A :class:`Card` says "at least ``k`` of these literals are true", where literal t is true iff
input ``idx[t]`` of the layer is +1 (``pos[t]``) or −1 (not ``pos[t]``). Thresholds are not
derived from algebra alone: the reference formulas of :mod:`bdd4bnn.semantics` are evaluated at
every possible number of true literals, so a constraint agrees with inference on every input,
including inputs that sit exactly on a batch-norm threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Block, OutputLayer
from ..semantics import neuron_fires, output_thresholds

__all__ = ["Card", "neuron_constraint", "class_constraints"]


@dataclass(frozen=True)
class Card:
    """At least ``k`` of the literals ``(idx[t], pos[t])`` are true.

    The literals form a multiset: an index may be listed more than once (weight 2 in an
    output comparison of a ternary model); every listing counts.
    """

    idx: tuple[int, ...]
    pos: tuple[bool, ...]
    k: int

    @classmethod
    def const(cls, value: bool) -> Card:
        """Return the constant constraint (true: k = 0; false: 1 of nothing)."""
        return cls((), (), 0 if value else 1)

    def __len__(self) -> int:
        return len(self.idx)

    @property
    def is_true(self) -> bool:
        return self.k <= 0

    @property
    def is_false(self) -> bool:
        return self.k > len(self.idx)

    @property
    def is_const(self) -> bool:
        return self.is_true or self.is_false

    def normalized(self) -> Card:
        """Return an equal constraint with constants in canonical form."""
        if self.is_true:
            return Card.const(True)
        if self.is_false:
            return Card.const(False)
        return self

    def negate(self) -> Card:
        """Return ¬C: at most k−1 true, i.e. at least m−k+1 of the negated literals."""
        if self.is_const:
            return Card.const(not self.is_true)
        return Card(self.idx, tuple(not p for p in self.pos), len(self.idx) - self.k + 1)

    def fold(self, known: np.ndarray) -> Card:
        """Substitute known inputs (``known[i]`` = ±1, or 0 when unknown) and simplify."""
        if not self.idx:
            return self.normalized()
        idx = np.fromiter(self.idx, dtype=np.int64, count=len(self.idx))
        v = known[idx]
        unknown = v == 0
        if unknown.all():
            return self.normalized()
        pos = np.fromiter(self.pos, dtype=bool, count=len(self.pos))
        k = self.k - int(((v > 0) == pos)[~unknown].sum())
        return Card(tuple(idx[unknown].tolist()), tuple(pos[unknown].tolist()), k).normalized()

    def holds(self, x: np.ndarray) -> np.ndarray:
        """Return whether the constraint holds for each row of ±1 values ``x``."""
        x = np.atleast_2d(x)
        if not self.idx:
            return np.full(x.shape[0], self.is_true)
        lits = x[:, list(self.idx)] == np.where(self.pos, 1, -1)
        return lits.sum(axis=1) >= self.k


def _from_mask(idx: tuple[int, ...], pos: tuple[bool, ...], mask: np.ndarray) -> Card:
    """Return the Card whose truth for A true literals (A = 0..m) is ``mask[A]``."""
    if mask.all():
        return Card.const(True)
    if not mask.any():
        return Card.const(False)
    first = int(np.argmax(mask))
    if mask[first:].all():  # upward closed: A >= first
        return Card(idx, pos, first)
    last = int(mask.sum())  # downward closed: mask true exactly on A < last
    if mask[:last].all():
        return Card(idx, pos, last).negate()
    raise ValueError("constraint is not monotone in the number of true literals")


def neuron_constraint(block: Block, neuron: int) -> Card:
    """Return "neuron outputs +1" as a Card over the block's inputs (zero weights dropped)."""
    row = block.weight[neuron]
    nz = np.flatnonzero(row)
    idx = tuple(nz.tolist())
    pos = tuple((row[nz] > 0).tolist())
    m = len(idx)
    count = np.arange(m + 1)
    mask = neuron_fires(block, neuron, 2 * count - m)
    return _from_mask(idx, pos, mask)


def class_constraints(output: OutputLayer, cls: int) -> list[Card]:
    """Return Cards over the last hidden layer whose conjunction means "``cls`` is predicted".

    One Card per other class c′. With d_i = W_ci − W_c′i (in {±2} for binary weights, also
    {±1} for ternary ones) and g the gcd of the |d_i|, literal ℓ_i = h_i if d_i > 0 else ¬h_i
    is listed |d_i|/g times (a multiset of M literals) and ``(W_c − W_c′)·h = g(2A − M)`` with
    A the number of true listed literals. Constant-true Cards are dropped; duplicates merged.
    """
    k = output_thresholds(output)
    w = output.weight.astype(np.int64)
    out: list[Card] = []
    seen: set[Card] = set()
    for other in range(output.num_classes):
        if other == cls:
            continue
        diff = w[cls] - w[other]
        nz = np.flatnonzero(diff)
        g = int(np.gcd.reduce(np.abs(diff[nz]))) if nz.size else 1
        idx: list[int] = []
        pos: list[bool] = []
        for i in nz:
            for _ in range(abs(int(diff[i])) // g):
                idx.append(int(i))
                pos.append(bool(diff[i] > 0))
        m = len(idx)
        count = np.arange(m + 1)
        card = _from_mask(tuple(idx), tuple(pos), g * (2 * count - m) >= k[cls, other])
        if card.is_true or card in seen:
            continue
        seen.add(card)
        out.append(card)
    return out
