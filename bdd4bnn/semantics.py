r"""The meaning of a BNN — the one place where it is defined.

Conventions (a Boolean variable is true iff the ±1 value is +1):

* Inputs are :math:`x \in \{-1,+1\}^n`.
* Internal block: :math:`a = W x + b` (computed exactly: :math:`W x` is an integer), then
  batch norm :math:`z = \gamma (a - \mu) / \sqrt{\sigma^2 + \varepsilon} + \beta` evaluated in
  IEEE binary64 in exactly this order, and :math:`h = +1` iff :math:`z \ge 0` (so sign(0) = +1).
  Without batch norm, :math:`z = a`. :math:`\gamma = 0` is legal: the neuron is constant.
* Output layer: scores :math:`s = W h + b`; the predicted class is the lowest index among the
  maxima of :math:`s`. Scores are compared *exactly* (no rounding): class ``c`` beats ``c'``
  iff :math:`(W_c - W_{c'})\cdot h \ge K_{cc'}`, the integer threshold
  :func:`output_thresholds` derives from the exact binary64 biases.

:func:`classify` is the reference inference every engine is tested against. The constraint
encoders do not re-derive these formulas: they evaluate :func:`neuron_fires` and
:func:`output_thresholds` themselves, so constraints and inference agree by construction.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .model import BNN, Block, OutputLayer

__all__ = [
    "normalize",
    "neuron_fires",
    "block_forward",
    "hidden_forward",
    "output_thresholds",
    "output_predict",
    "predict_from_dots",
    "classify",
]

_CHUNK = 65536


def normalize(block: Block, a: np.ndarray, neuron: int | None = None) -> np.ndarray:
    """Return z, the batch-normalised pre-activation (``a`` itself without batch norm).

    With ``neuron`` given, ``a`` holds values of that one neuron; otherwise its last axis runs
    over the block's neurons.
    """
    bn = block.bn
    if bn is None:
        return a
    sel = slice(None) if neuron is None else neuron
    gamma, beta, mean, var = bn.gamma[sel], bn.beta[sel], bn.mean[sel], bn.var[sel]
    with np.errstate(over="ignore", invalid="ignore"):  # binary64 as it is, ±inf and NaN too
        return gamma * (a - mean) / np.sqrt(var + bn.eps) + beta


def neuron_fires(block: Block, neuron: int, dot: np.ndarray) -> np.ndarray:
    """Return whether ``neuron`` outputs +1 for each integer value ``dot`` of ``W[neuron]·x``."""
    a = np.asarray(dot, dtype=np.float64) + block.bias[neuron]
    return normalize(block, a, neuron) >= 0


def block_forward(block: Block, x: np.ndarray) -> np.ndarray:
    """Return the ±1 outputs (int8, shape (N, out)) of ``block`` on ±1 inputs ``x`` (N, in)."""
    dot = np.asarray(x, dtype=np.float64) @ block.weight.T.astype(np.float64)
    z = normalize(block, dot + block.bias)
    return np.where(z >= 0, 1, -1).astype(np.int8)


def hidden_forward(model: BNN, x: np.ndarray) -> np.ndarray:
    """Return the last hidden layer (int8 ±1) for inputs ``x`` (shape (N, n))."""
    h = np.asarray(x, dtype=np.int8)
    for block in model.blocks:
        h = block_forward(block, h)
    return h


def output_thresholds(output: OutputLayer, max_abs_weight: int | None = None) -> np.ndarray:
    """Return K (int64, C×C): class c beats c' iff ``(W_c - W_c')·h >= K[c, c']``.

    Derived exactly from the binary64 biases: ``s_c - s_c' = D + (b_c - b_c')`` with D an
    integer; ties go to the lower index, so the comparison is ``>=`` when c < c' and ``>``
    when c > c'. The diagonal is 0. |D| never exceeds ``lim`` (the largest row sum of |W|,
    twice), so thresholds are clamped to ±(lim + 1), which changes no comparison and keeps
    huge biases within int64. ``max_abs_weight`` widens that clamp for weights that may
    change (faults): |D| ≤ 2·max_abs_weight·(columns).
    """
    b = [Fraction(float(v)) for v in output.bias]
    c = len(b)
    lim = 2 * int(np.abs(output.weight.astype(np.int64)).sum(axis=1).max(initial=0)) + 1
    if max_abs_weight is not None:
        lim = max(lim, 2 * int(max_abs_weight) * int(output.weight.shape[1]) + 1)
    k = np.zeros((c, c), dtype=np.int64)
    for i in range(c):
        for j in range(c):
            if i == j:
                continue
            delta = b[j] - b[i]  # need D >= delta (i < j) or D > delta (i > j)
            t = math.ceil(delta) if i < j else math.floor(delta) + 1
            k[i, j] = min(max(t, -lim), lim)
    return k


def predict_from_dots(dots: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Return the class for integer output dots ``W h`` (N, C) and thresholds ``k`` (C, C).

    For each input the classes are strictly ordered ("c beats c′": a higher exact score, or
    an equal one and a lower index; :func:`output_thresholds`), so one pass over the classes
    keeping the best so far finds the winner: c′ replaces the best c iff c′ beats c.
    """
    dots = np.asarray(dots, dtype=np.int64)
    rows = np.arange(dots.shape[0])
    best = np.zeros(dots.shape[0], dtype=np.int64)
    for c in range(1, dots.shape[1]):
        beats = dots[:, c] - dots[rows, best] >= k[c][best]
        best[beats] = c
    return best


def output_predict(output: OutputLayer, h: np.ndarray) -> np.ndarray:
    """Return the predicted class (int64, shape (N,)) for last-hidden-layer values ``h``.

    The dots are exact in float32 BLAS: integers of magnitude at most the layer width < 2^24.
    """
    h = np.asarray(h, dtype=np.int8)
    w = output.weight.T.astype(np.float32)
    dots = h.astype(np.float32) @ w if h.shape[-1] < 1 << 24 else h.astype(np.float64) @ w
    return predict_from_dots(dots.astype(np.int64), output_thresholds(output))


def classify(model: BNN, x: np.ndarray) -> np.ndarray:
    """Return the predicted class of each row of ``x`` (±1 values, shape (N, n) or (n,))."""
    x = np.asarray(x)
    single = x.ndim == 1
    x2 = x.reshape(1, -1) if single else x
    labels = np.empty(x2.shape[0], dtype=np.int64)
    for start in range(0, x2.shape[0], _CHUNK):
        h = hidden_forward(model, x2[start : start + _CHUNK])
        labels[start : start + _CHUNK] = output_predict(model.output, h)
    return labels[0] if single else labels
