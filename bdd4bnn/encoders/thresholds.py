"""A block as integer thresholds on the dot W·x, derived from the block's Cards.

Neuron j outputs +1 iff ``sign[j] * dot_j >= bound[j]``. The Card "at least k of the m
literals" (literals agree with the weights' signs: A = (dot + m)/2) gives sign +1 and bound
2k − m; a Card on negated literals (γ < 0: m − A ≥ k) gives sign −1 and the same bound;
constant neurons have sign 0 and bound 0 (always +1) or 1 (always −1). The semantics are not
re-derived here: :func:`bdd4bnn.encoders.constraints.neuron_constraint` is the source.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..model import Block
from ..semantics import dot_range, level_steps
from .constraints import neuron_constraint

__all__ = ["BlockThresholds", "block_thresholds", "signed_flips", "level_thresholds"]


@dataclass(frozen=True)
class BlockThresholds:
    sign: np.ndarray  # int32, in {-1, 0, +1}
    bound: np.ndarray  # int32

    def fold(self, weight: np.ndarray) -> np.ndarray:
        """Return W′ = sign·W (int64): neuron j fires iff ``W′[j]·x >= bound[j]`` (constant
        neurons get a zero row)."""
        return self.sign[:, None].astype(np.int64) * np.asarray(weight, dtype=np.int64)

    def apply(self, dots: np.ndarray) -> np.ndarray:
        """Return ±1 int8 outputs from integer dots (N, out)."""
        return np.where(self.sign * np.asarray(dots) >= self.bound, 1, -1).astype(np.int8)


_MADE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def block_thresholds(block: Block) -> BlockThresholds:
    """Return the integer thresholds of ``block``'s neurons (read-only arrays), derived once
    per block while it lives (a Card per neuron: 0.35 s for a 2048-wide block)."""
    hit = _MADE.get(block)
    if hit is None:
        hit = _MADE[block] = _derive(block)
    return hit


def _derive(block: Block) -> BlockThresholds:
    sign = np.zeros(block.out_size, dtype=np.int32)
    bound = np.zeros(block.out_size, dtype=np.int32)
    for j in range(block.out_size):
        card = neuron_constraint(block, j)
        if card.is_const:
            bound[j] = 0 if card.is_true else 1
            continue
        m = len(card)
        i0 = card.idx[0]
        agrees = card.pos[0] == bool(block.weight[j, i0] > 0)
        sign[j] = 1 if agrees else -1
        bound[j] = 2 * card.k - m
    sign.flags.writeable = bound.flags.writeable = False
    return BlockThresholds(sign, bound)


def signed_flips(
    block: Block, center: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (base, delta, bound) for flipping pixels of ``center`` in the first block.

    ``base`` = W′·u, the signed dots at the centre; ``delta[t]`` = their change when free
    pixel ``free[t]`` flips (−2·u_i·W′[:, i]); neuron j fires iff its signed dot >= bound[j]
    (int64 arrays; W′ = sign·W as in :meth:`BlockThresholds.fold`).
    """
    th = block_thresholds(block)
    w = th.fold(block.weight)
    u = np.asarray(center, dtype=np.int64)
    free = np.asarray(free, dtype=np.int64)
    return w @ u, -2 * u[free][:, None] * w[:, free].T, th.bound.astype(np.int64)


def level_thresholds(block: Block, levels_in: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return (sign, θ) of a block of a multi-level network on inputs of ``levels_in``: with
    W′ = sign·W, neuron j's level index is #{t : W′_j·x ≥ θ[j, t]} (int64 arrays; constant
    neurons get sign 0 and θ 0 (top level) or 1 (bottom)), from
    :func:`bdd4bnn.semantics.level_steps`."""
    m, steps = block.out_size, len(block.levels) - 1
    sign = np.ones(m, dtype=np.int64)
    theta = np.zeros((m, steps), dtype=np.int64)
    for j in range(m):
        for t, (direction, value) in enumerate(
            level_steps(block, j, dot_range(block.weight[j], levels_in))
        ):
            sign[j] = direction
            if direction == 0:  # level_steps: value 1 always, 0 never; here 0 >= θ
                theta[j, t] = 1 - value
            else:
                theta[j, t] = -value if direction < 0 else value
    return sign, theta
