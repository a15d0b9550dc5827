"""The int8 CPU path, whole network in torch: _int_mm GEMMs, fused integer thresholds.

Weights are padded once to the sizes ``torch._int_mm`` needs (inner and output sizes multiples
of 8, more than 16 rows). Padded neurons get the threshold "always +1" and meet zero weight
columns in the next layer, so padding never has to be cleared between layers.
The output argmax is exact in O(N·C): the float64 argmax of ``dots + bias`` is a candidate,
verified against the exact integer thresholds; rows whose candidate fails (float rounding
ties) are decided by the full rule (:func:`bdd4bnn.semantics.predict_from_dots`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..model import BNN
from ..semantics import output_thresholds, predict_from_dots
from .thresholds import block_thresholds

__all__ = ["Int8Net"]


def _pad8(n: int) -> int:
    return -(-n // 8) * 8


class Int8Net:
    """A model prepared for repeated int8 inference."""

    def __init__(self, model: BNN) -> None:
        self.model = model
        self.in_pad = _pad8(model.input_size)
        self.layers = []
        self.in_sizes = []
        prev = model.input_size
        for block in model.blocks:
            th = block_thresholds(block)
            m = block.out_size
            w = torch.zeros((_pad8(prev), _pad8(m)), dtype=torch.int8)
            w[:prev, :m] = torch.from_numpy(np.ascontiguousarray(block.weight.T))
            sign = torch.zeros(_pad8(m), dtype=torch.int32)
            bound = torch.zeros(_pad8(m), dtype=torch.int32)  # padded: 0 >= 0, always +1
            sign[:m] = torch.from_numpy(th.sign)
            bound[:m] = torch.from_numpy(th.bound)
            self.layers.append((w, sign, bound))
            self.in_sizes.append(prev)
            prev = m
        c = model.num_classes
        wo = torch.zeros((_pad8(prev), _pad8(c)), dtype=torch.int8)
        wo[:prev, :c] = torch.from_numpy(np.ascontiguousarray(model.output.weight.T))
        self.out_w = wo
        self.k = output_thresholds(model.output)
        self.k_t = torch.from_numpy(self.k)
        self.bias = torch.from_numpy(model.output.bias.astype(np.float64))
        self.c = c

    def predict(self, x: np.ndarray, start: int = 0) -> np.ndarray:
        """Return classes for ±1 values ``x`` entering block ``start`` (len(blocks): output)."""
        n = x.shape[0]
        rows = max(n, 17)
        width = self.layers[start][0].shape[0] if start < len(self.layers) else self.out_w.shape[0]
        h = torch.zeros((rows, width), dtype=torch.int8)
        h[:n, : x.shape[1]] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int8))
        return self._tail(h, start, n)

    def classes_from_first_dots(self, dots: np.ndarray) -> np.ndarray:
        """Return classes given the first block's integer dots (B, m), thresholded in torch."""
        n, m = dots.shape
        _, sign, bound = self.layers[0]
        width = self.layers[1][0].shape[0] if len(self.layers) > 1 else self.out_w.shape[0]
        h = torch.ones((max(n, 17), width), dtype=torch.int8)
        d = torch.from_numpy(np.ascontiguousarray(dots, dtype=np.int32))
        one = torch.ones((), dtype=torch.int8)
        h[:n, :m] = torch.where(d * sign[:m] >= bound[:m], one, -one)
        return self._tail(h, 1, n)

    def _tail(self, h: torch.Tensor, start: int, n: int) -> np.ndarray:
        one = torch.ones((), dtype=torch.int8)
        for w, sign, bound in self.layers[start:]:
            dots = torch._int_mm(h, w)
            h = torch.where(dots * sign >= bound, one, -one)
        dots = torch._int_mm(h, self.out_w)[:n, : self.c].to(torch.int64)
        cand = (dots.to(torch.float64) + self.bias).argmax(dim=1)
        lead = dots.gather(1, cand[:, None])
        ok = ((lead - dots) >= self.k_t[cand]).all(dim=1)
        out = cand.numpy().copy()
        bad = (~ok).nonzero().flatten().numpy()
        if bad.size:
            out[bad] = predict_from_dots(dots[bad].numpy(), self.k)
        return out
