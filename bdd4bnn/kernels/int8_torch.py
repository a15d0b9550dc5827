"""The int8 CPU path, whole network in torch: _int_mm GEMMs, fused integer thresholds.

Activations travel as 0/1 (h = (x + 1) / 2), so that a block is one GEMM and one comparison
whose boolean result is reinterpreted as int8 without a copy. With W′ = sign·W (constant
neurons: a zero row), neuron j of a block outputs +1 iff ``sign·(W·x) ≥ bound`` (the Card's
threshold, :mod:`bdd4bnn.encoders.thresholds`) iff ``W′·h ≥ ⌈(bound + rowsum W′)/2⌉``.

Weights are padded once to the sizes ``torch._int_mm`` needs (inner and output sizes multiples
of 8, more than 16 rows); padded neurons meet zero weight columns in the next layer. The
output argmax is exact in O(N·C): the float64 argmax of ``dots + bias`` is a candidate,
verified against the exact integer thresholds; rows whose candidate fails (float rounding ties)
are decided by the full rule (:func:`bdd4bnn.semantics.predict_from_dots`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from ..encoders.thresholds import block_thresholds
from ..model import BNN
from ..semantics import output_thresholds, predict_from_dots

__all__ = ["Int8Net"]


def _pad8(n: int) -> int:
    return -(-n // 8) * 8


class Int8Net:
    """A model prepared for repeated int8 inference."""

    def __init__(self, model: BNN) -> None:
        self.model = model
        self.layers = []  # (W′ padded (in, out) int8, bound′ int32 (out,))
        prev = model.input_size
        for block in model.blocks:
            th = block_thresholds(block)
            m = block.out_size
            wp = th.fold(block.weight)
            rs = wp.sum(axis=1)
            bound = -((-(th.bound.astype(np.int64) + rs)) // 2)
            bound[th.sign == 0] = th.bound[th.sign == 0]  # 0 >= 0 (+1) or 0 >= 1 (−1)
            w = torch.zeros((_pad8(prev), _pad8(m)), dtype=torch.int8)
            w[:prev, :m] = torch.from_numpy(np.ascontiguousarray(wp.T.astype(np.int8)))
            bd = torch.zeros(_pad8(m), dtype=torch.int32)
            bd[:m] = torch.from_numpy(bound.astype(np.int32))
            self.layers.append((w, bd))
            prev = m
        c = model.num_classes
        wo = torch.zeros((_pad8(prev), _pad8(c)), dtype=torch.int8)
        wo[:prev, :c] = torch.from_numpy(np.ascontiguousarray(model.output.weight.T))
        self.out_w = wo
        self.out_rs = torch.from_numpy(model.output.weight.astype(np.int64).sum(axis=1))
        self.k = output_thresholds(model.output)
        self.k_t = torch.from_numpy(self.k)
        self.bias = torch.from_numpy(model.output.bias.astype(np.float64))
        self.c = c
        # scores 2·d01 + (b − rowsum) are exact in binary64 when every b − rowsum is a
        # multiple of 2^-41 below 2^40 (|2·d01| < 2^12 then leaves room): the float argmax is
        # then the exact one, ties included (first index).
        adj = [
            Fraction(float(b)) - int(r)
            for b, r in zip(model.output.bias, self.out_rs.tolist(), strict=True)
        ]
        self.float_exact = all((a * 2**41).denominator == 1 and abs(a) < 2**40 for a in adj)
        self.adj = torch.tensor([float(a) for a in adj], dtype=torch.float64)

    def _width(self, start: int) -> int:
        return self.layers[start][0].shape[0] if start < len(self.layers) else self.out_w.shape[0]

    def predict(self, x: np.ndarray, start: int = 0) -> np.ndarray:
        """Return classes for ±1 values ``x`` entering block ``start`` (len(blocks): output)."""
        n = x.shape[0]
        h = torch.zeros((max(n, 17), self._width(start)), dtype=torch.int8)
        h[:n, : x.shape[1]] = torch.from_numpy(np.ascontiguousarray(x > 0).view(np.int8))
        return self._tail(h, start, n)

    def classes_from_signed_dots(self, dots: np.ndarray, bound: np.ndarray) -> np.ndarray:
        """Return classes given the first block's signed dots (B, m): neuron j fires iff
        ``dots[:, j] >= bound[j]`` (see :class:`bdd4bnn.engines.enum.stream._Walker`)."""
        n, m = dots.shape
        # uninitialised is fine: padded columns meet zero weights, extra rows are dropped
        h = torch.empty((max(n, 17), self._width(1)), dtype=torch.int8)
        d = torch.from_numpy(np.ascontiguousarray(dots, dtype=np.int32))
        h[:n, :m] = (d >= torch.from_numpy(bound)).view(torch.int8)
        return self._tail(h, 1, n)

    def _tail(self, h: torch.Tensor, start: int, n: int) -> np.ndarray:
        for w, bound in self.layers[start:]:
            h = (torch._int_mm(h, w) >= bound).view(torch.int8)
        d01 = torch._int_mm(h, self.out_w)[:n, : self.c]
        if self.float_exact:
            return (d01.to(torch.float64) * 2 + self.adj).argmax(dim=1).numpy()
        dots = 2 * d01.to(torch.int64) - self.out_rs
        cand = (dots.to(torch.float64) + self.bias).argmax(dim=1)
        lead = dots.gather(1, cand[:, None])
        ok = ((lead - dots) >= self.k_t[cand]).all(dim=1)
        out = cand.numpy().copy()
        bad = (~ok).nonzero().flatten().numpy()
        if bad.size:
            out[bad] = predict_from_dots(dots[bad].numpy(), self.k)
        return out
