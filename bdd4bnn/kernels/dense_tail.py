"""The blocks after the first and the output as binary32 matrices for numpy's BLAS: exact
(every dot an integer below 2^24), run on first-block outputs.

Each later block is folded into integer thresholds (:mod:`bdd4bnn.encoders.thresholds`):
neuron j fires iff ``W′_j·h >= bound[j]``, W′ = sign·W. :meth:`DenseTail.scores_near` moves
each later block's dots from a reference state's by the columns that differ, so scoring
inputs a few flips apart costs a fraction of a full pass (the beam attack).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np

from ..encoders.thresholds import block_thresholds
from ..model import BNN

__all__ = ["DenseTail", "dense_tail"]


class DenseTail(NamedTuple):
    out_w: np.ndarray  # Wᵀ of the output (float32)
    out_w2: np.ndarray  # 2·Wᵀ (the output read on 0/1 inputs)
    out_sum: np.ndarray  # Σ of W's columns
    bias: np.ndarray  # the output's biases (float64)
    later: list[tuple[np.ndarray, np.ndarray]]  # per later block: (W′ᵀ float32, bound)

    def output_dots(self, fired: np.ndarray) -> np.ndarray:
        """Return the output's integer dots W·h (float32, (N, C)) for first-block outputs
        ``fired`` (N, m) (bool: +1)."""
        if not self.later:  # W·h = 2·W·[h = +1] − W·1, one GEMM on 0/1
            return fired.astype(np.float32) @ self.out_w2 - self.out_sum
        h = fired.astype(np.float32) * 2 - 1
        for w, bound in self.later:
            h = (h @ w >= bound).astype(np.float32) * 2 - 1
        return h @ self.out_w

    def reference(self, ref: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return, per later block, its input (bool) and signed dots at first-block outputs
        ``ref`` (m,) (bool): the reference state of :meth:`scores_near`."""
        states, h = [], ref
        for w, bound in self.later:
            dots = (h.astype(np.float32) * 2 - 1) @ w
            states.append((h, dots))
            h = dots >= bound
        return states

    def scores_near(
        self, fired: np.ndarray, states: list[tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """Return the output scores (float64, (N, C)) for first-block outputs ``fired``
        (N, m) near a reference with :meth:`reference` ``states``: each later block's dots
        move from the reference's by the columns where some row's input differs."""
        if not self.later:
            return self.output_dots(fired).astype(np.float64) + self.bias
        h = fired
        for (w, bound), (ref, ref_dots) in zip(self.later, states, strict=True):
            cols = np.flatnonzero((h != ref[None, :]).any(axis=0))
            step = h[:, cols].astype(np.float32) - ref[cols].astype(np.float32)  # ±1 / 0
            h = ref_dots[None, :] + 2 * (step @ w[cols]) >= bound  # h − h_ref = 2·step
        return ((h.astype(np.float32) * 2 - 1) @ self.out_w).astype(np.float64) + self.bias

    @property
    def later_macs(self) -> int:
        """Return the multiply-accumulates of one pass through the later blocks and output."""
        return sum(w.size for w, _ in self.later) + self.out_w.size


_MADE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dense_tail(model: BNN) -> DenseTail:
    """Return the model's :class:`DenseTail`, made once while the model lives (not per query:
    16 MB for each 2048-wide block)."""
    hit = _MADE.get(model)
    if hit is None:
        later = []
        for block in model.blocks[1:]:
            th = block_thresholds(block)
            later.append((th.fold(block.weight).T.astype(np.float32), th.bound))
        out_w = model.output.weight.T.astype(np.float32)
        bias = np.asarray(model.output.bias, dtype=np.float64)
        hit = _MADE[model] = DenseTail(out_w, 2 * out_w, out_w.sum(axis=0), bias, later)
    return hit
