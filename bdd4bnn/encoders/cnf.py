"""The model's Cards as CNF (PySAT), for SAT solving and approximate counting.

Variables are numbered by meaning through :class:`pysat.formula.IDPool`: ``("x", i)`` for input
pixels, ``("h", block, j)`` for hidden neurons, ``("class", c)`` for class selectors. A hidden
neuron is reified as ``h ↔ C``: the clauses of a ``pysat.card`` encoding of C, each guarded by
``¬h``, plus those of ¬C (also a Card) guarded by ``h``. A class selector ``s_c`` implies the
class's Cards (one direction is enough: selectors are only asserted, never denied).

The cardinality encoding is chosen per constraint by size (see :func:`choose_encoding`, measured
in ``benchmarks/bench_sat_encodings.py``).

Relative to a Hamming ball (``relative_to``), a first-block neuron is instead compared with its
value at the centre: with A its literals true at the centre, B the false ones, and FA, FB the
flipped pixels among them, ``C`` (at least k of A ∪ B) reads ``FA − FB ≤ |A| − k``. Two-way
counters over the flips of A and of B, cut at the ball's radius R
(:mod:`bdd4bnn.encoders.totalizer`), give ``h ∧ FA ≥ t → FB ≥ t − m`` and
``¬h ∧ FB ≥ u → FA ≥ u + m + 1`` for t, u ≤ R: O(n·R) clauses instead of O(n·k), and a solver
that reaches a conflict after a handful of flips instead of hundreds of counter steps.
Exact only for inputs with at most R flips, which every query of the ball has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pysat.card import CardEnc, EncType
from pysat.formula import IDPool

from ..errors import LimitReached
from ..model import BNN
from ..region import Region
from .constraints import Card, class_constraints, neuron_constraint
from .totalizer import counter

__all__ = ["CnfEncoder", "choose_encoding", "ENCODINGS"]

ENCODINGS = {
    "seqcounter": EncType.seqcounter,
    "totalizer": EncType.totalizer,
    "kmtotalizer": EncType.kmtotalizer,
    "mtotalizer": EncType.mtotalizer,
    "sortnetwrk": EncType.sortnetwrk,
    "cardnetwrk": EncType.cardnetwrk,
}


def choose_encoding(n: int, k: int) -> int:
    """Return the PySAT encoding for "at least k of n" (measured; benchmarks/RESULTS.md).

    The (k-)modulo totalizers give 3–10× fewer clauses than the sequential counter, totalizer
    and sorting/cardinality networks, and the best solve times. Up to 200 literals the modulo
    totalizer was fastest over Hamming radii 1–4 on BNNQuanalyst's 100-input models; on
    784-input neurons the k-modulo totalizer is smaller (4.8·10⁶ against 6.6·10⁶ clauses for
    a 784-100-10 model at r = 40) and loads 2× faster into the solver.
    """
    return EncType.mtotalizer if n <= 200 else EncType.kmtotalizer


# The most clauses a CNF may need (estimated before encoding): PySAT holds each as a Python
# list (about 100 bytes), so 5·10⁷ is several GB; a 784-100-10 model needs at most 6·10⁶.
MAX_CLAUSES = 50_000_000


def estimated_clauses(literals: Sequence[int] | np.ndarray, cap: int | None = None) -> int:
    """Return an order-of-magnitude estimate of the clauses of Cards over ``literals``
    literals each (both directions of each neuron): modulo totalizers grow as about 3·n^1.5
    for n literals (4.8·10⁴ per 784-literal neuron measured), counters cut at ``cap`` as
    2·n·cap."""
    n = np.asarray(literals, dtype=np.float64)
    return int((2 * n * cap).sum() if cap is not None else (6 * n**1.5).sum())


def later_blocks_clauses(model: BNN) -> int:
    """Return the :func:`estimated_clauses` of the blocks after the first, read off their
    weights (no region folds them much: their inputs are hidden neurons)."""
    return sum(
        estimated_clauses(np.count_nonzero(block.weight, axis=1)) for block in model.blocks[1:]
    )


class CnfEncoder:
    """A model as CNF over pixel variables, hidden-neuron variables and class selectors.

    With ``folded`` (from :func:`bdd4bnn.encoders.propagate.propagate` over an envelope
    region), neurons that cannot change inside the envelope are unit clauses and folded Cards
    are encoded instead of the full ones; every query must then stay inside the envelope.

    With ``relative_to`` (the envelope: a centre, free pixels and radius R; ``folded`` must
    come from it), the first block is encoded relative to the centre (module docstring):
    exact for inputs that differ from the centre in at most R pixels, so every query must
    bound its flips by R.
    """

    def __init__(
        self,
        model: BNN,
        encoding: str = "auto",
        folded: Any = None,
        budget: Any = None,
        relative_to: Region | None = None,
    ) -> None:
        if encoding != "auto" and encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose from {sorted(ENCODINGS)}")
        self.model = model
        self.encoding = encoding
        self.pool = IDPool()
        self.clauses: list[list[int]] = []
        self.x = [self.pool.id(("x", i)) for i in range(model.input_size)]
        self._check_size(model, folded, relative_to)
        prev = self.x
        self.hidden: list[list[int]] = []
        for b, block in enumerate(model.blocks):
            layer = [self.pool.id(("h", b, j)) for j in range(block.out_size)]
            for j, h in enumerate(layer):
                card = neuron_constraint(block, j) if folded is None else folded.blocks[b][j]
                if card.is_const:
                    self.clauses.append([h if card.is_true else -h])
                    continue
                if b == 0 and relative_to is not None:
                    self._add_relative(card, h, relative_to)
                else:
                    self.add_card(card, prev, guard=h)
                    self.add_card(card.negate(), prev, guard=-h)
                if budget is not None:
                    budget.check()
            self.hidden.append(layer)
            prev = layer
        self.selectors = [self.pool.id(("class", c)) for c in range(model.num_classes)]
        for c, s in enumerate(self.selectors):
            cards = class_constraints(model.output, c) if folded is None else folded.classes[c]
            for card in cards:
                self.add_card(card, prev, guard=s)

    @staticmethod
    def _check_size(model: BNN, folded: Any, relative_to: Region | None) -> None:
        """Raise :class:`LimitReached` (kind "size") when the CNF would pass
        :data:`MAX_CLAUSES`: dense blocks thousands wide need billions of clauses, which no
        time limit would stop in one piece."""
        est = 0
        for b, block in enumerate(model.blocks):
            literals = (
                np.count_nonzero(block.weight, axis=1)
                if folded is None
                else [len(card.idx) for card in folded.blocks[b] if not card.is_const]
            )
            cap = relative_to.radius if b == 0 and relative_to is not None else None
            est += estimated_clauses(literals, cap)
            if est > MAX_CLAUSES:
                raise LimitReached(
                    f"SAT: the CNF would hold about {est:.1e} clauses (more than "
                    f"{MAX_CLAUSES:.0e}) by block {b} ({block.out_size} neurons over "
                    f"{block.in_size} inputs)",
                    kind="size",
                )

    def _encoding_for(self, n: int, k: int) -> int:
        if self.encoding == "auto":
            return choose_encoding(n, k)
        return ENCODINGS[self.encoding]

    def add_card(self, card: Card, layer: Sequence[int], guard: int | None = None) -> None:
        """Add clauses for ``guard → card`` (or ``card`` alone), literals taken from ``layer``."""
        g = [] if guard is None else [-guard]
        if card.is_true:
            return
        if card.is_false:
            self.clauses.append(g)
            return
        lits = [layer[i] if p else -layer[i] for i, p in zip(card.idx, card.pos, strict=True)]
        if card.k == len(lits):  # all of them: units
            self.clauses.extend([lit, *g] for lit in lits)
            return
        if card.k == 1:
            self.clauses.append(lits + g)
            return
        enc = CardEnc.atleast(
            lits, bound=card.k, vpool=self.pool, encoding=self._encoding_for(len(lits), card.k)
        )
        self.clauses.extend(cl + g for cl in enc.clauses)

    def _add_relative(self, card: Card, h: int, ball: Region) -> None:
        """Add ``h ↔ card`` for a card over pixels, exact within ``ball`` (module docstring)."""
        center, cap = ball.center, ball.radius
        flips_a: list[int] = []
        flips_b: list[int] = []
        for i, p in zip(card.idx, card.pos, strict=True):
            flip = -self.x[i] if center[i] > 0 else self.x[i]
            (flips_a if (center[i] > 0) == p else flips_b).append(flip)
        m = len(flips_a) - card.k
        fa = _at_least(counter(flips_a, cap, self.pool, self.clauses))
        fb = _at_least(counter(flips_b, cap, self.pool, self.clauses))
        self._implications(h, fa, fb, -m)  # h ∧ FA ≥ t → FB ≥ t − m
        self._implications(-h, fb, fa, m + 1)  # ¬h ∧ FB ≥ u → FA ≥ u + m + 1

    def _implications(self, guard: int, first: Any, second: Any, shift: int) -> None:
        """Add ``guard ∧ first(t) → second(t + shift)`` for every t where first(t) may hold."""
        t = 0
        while (lhs := first(t)) is not False:
            rhs = second(t + shift)
            if rhs is not True:
                clause = [-guard]
                if lhs is not True:
                    clause.append(-lhs)
                if rhs is not False:
                    clause.append(rhs)
                self.clauses.append(clause)
            t += 1

    def flip_literals(self, center: Sequence[int], pixels: Sequence[int]) -> list[int]:
        """Return, per pixel, the literal that is true iff the pixel differs from ``center``."""
        return [-self.x[i] if center[i] > 0 else self.x[i] for i in pixels]


def _at_least(out: list[int]) -> Any:
    """Return ``t ↦`` the literal "at least t" of counter ``out`` (True / False when fixed;
    False past its last output: more flips than the literals or the ball's radius allow)."""

    def at_least(t: int) -> int | bool:
        if t <= 0:
            return True
        if t > len(out):
            return False
        return out[t - 1]

    return at_least
