"""The int8 CPU path for multi-level networks: small-integer activations through torch GEMMs.

Levels (|v| ≤ 127) and weights (|w| ≤ 15) are int8 and every dot of a block is one
``torch._int_mm`` (int32: exact). With W′ = sign·W, a neuron's level index is the number of its
thresholds at or below its dot (:func:`bdd4bnn.encoders.thresholds.level_thresholds`, the
integer form of the reference semantics), and the class is the exact rule of
:func:`bdd4bnn.semantics.predict_from_dots`. This path reads the network as it is, not its
thermometer form (which the engines read), so a cross-check compares two routes to the same
semantics.
"""

from __future__ import annotations

import numpy as np
import torch

from ..encoders.thresholds import level_thresholds
from ..model import BNN
from ..semantics import output_thresholds, predict_from_dots
from .int8_torch import _pad8

__all__ = ["Int8LevelNet"]


class Int8LevelNet:
    """A multi-level model prepared for repeated int8 inference on input levels."""

    def __init__(self, model: BNN) -> None:
        self.model = model
        self.layers = []  # (W′ (in, out) int8 padded, θ (out, L − 1) int32, levels int8)
        prev, levels = model.input_size, model.input_levels
        for block in model.blocks:
            sign, theta = level_thresholds(block, levels)
            m = block.out_size
            w = torch.zeros((_pad8(prev), _pad8(m)), dtype=torch.int8)
            wp = sign[:, None] * block.weight.astype(np.int64)
            w[:prev, :m] = torch.from_numpy(np.ascontiguousarray(wp.T.astype(np.int8)))
            th = torch.zeros((_pad8(m), theta.shape[1]), dtype=torch.int32)
            th[:m] = torch.from_numpy(np.clip(theta, -(2**31), 2**31 - 1).astype(np.int32))
            lv = torch.tensor(block.levels, dtype=torch.int8)
            self.layers.append((w, th, lv))
            prev, levels = m, block.levels
        c = model.num_classes
        self.out_w = torch.zeros((_pad8(prev), _pad8(c)), dtype=torch.int8)
        self.out_w[:prev, :c] = torch.from_numpy(np.ascontiguousarray(model.output.weight.T))
        self.k = output_thresholds(model.output, max_abs_input=max(abs(v) for v in levels))
        self.c = c

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the classes of inputs ``x`` given as levels (N, n)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.int8))
        n = x.shape[0]
        h = torch.zeros((max(n, 17), self.layers[0][0].shape[0]), dtype=torch.int8)
        h[:n, : x.shape[1]] = torch.from_numpy(np.ascontiguousarray(x))
        for w, th, lv in self.layers:
            d = torch._int_mm(h, w)
            k = (d[:, :, None] >= th[None]).sum(dim=2)
            h = lv[k]
        dots = torch._int_mm(h, self.out_w)[:n, : self.c].to(torch.int64).numpy()
        return predict_from_dots(dots, self.k)
