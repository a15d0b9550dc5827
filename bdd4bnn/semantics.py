r"""The meaning of a BNN — the one place where it is defined.

Conventions (a Boolean variable is true iff the ±1 value is +1):

* Inputs are :math:`x \in \{-1,+1\}^n`.
* Internal block: :math:`a = W x + b` (computed exactly: :math:`W x` is an integer), then
  batch norm :math:`z = \gamma (a - \mu) / \sqrt{\sigma^2 + \varepsilon} + \beta` evaluated in
  IEEE binary64 in exactly this order, and :math:`h = +1` iff :math:`z \ge 0` (so sign(0) = +1).
  Without batch norm, :math:`z = a`. :math:`\gamma = 0` is legal: the neuron is constant.
* Multi-threshold block (``block.thresholds`` given; inputs, weights and levels small
  integers): the dot :math:`D = W x` is an exact integer and neuron j outputs
  :math:`v_k`, ``block.levels[k]``, with :math:`k = \#\{t : D_j \ge \theta_{jt}\}` (FINN's
  MultiThreshold). Inputs of a multi-level network are levels ``model.input_levels``.
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
    "level_index",
    "dot_range",
    "level_steps",
    "tabulated_thresholds",
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


def level_index(thresholds: np.ndarray, dot: np.ndarray) -> np.ndarray:
    """Return k = #{t : D ≥ θ_t} for integer dots ``dot`` (N, out) and ``thresholds``
    (out, L − 1): the index of each neuron's output level."""
    d = np.asarray(dot, dtype=np.int64)
    return (d[..., None] >= thresholds).sum(axis=-1)


def dot_range(weight_row: np.ndarray, levels: tuple[int, ...]) -> tuple[int, int]:
    """Return the least and greatest dot of a weight row over inputs of ``levels``."""
    w = np.asarray(weight_row, dtype=np.int64)
    lo = np.minimum(w * levels[0], w * levels[-1]).sum()
    hi = np.maximum(w * levels[0], w * levels[-1]).sum()
    return int(lo), int(hi)


def level_steps(block: Block, neuron: int, dots: tuple[int, int]) -> list[tuple[int, int]]:
    """Return each output level step of ``neuron`` as (direction, θ) over the integer dots
    in ``dots`` (inclusive): direction +1 means "level ≥ v_t iff D ≥ θ", −1 "iff D ≤ θ", 0 a
    constant (θ = 1: always, 0: never). A multi-threshold block gives its thresholds (clamped
    to the range); a sign block one step, read off :func:`neuron_fires` at every dot."""
    lo, hi = dots
    if block.thresholds is not None:
        return [(1, min(max(int(t), lo), hi + 1)) for t in block.thresholds[neuron]]
    d = np.arange(lo, hi + 1)
    fires = neuron_fires(block, neuron, d)
    if fires.all() or not fires.any():
        return [(0, int(fires[0]))]
    first = int(np.argmax(fires))
    if fires[first:].all():
        return [(1, int(d[first]))]
    last = int(fires.sum())
    if fires[:last].all():
        return [(-1, int(d[last - 1]))]
    from .errors import ModelError

    raise ModelError(f"neuron {neuron}: output is not monotone in its dot")


def tabulated_thresholds(
    dots: np.ndarray, idx: np.ndarray, levels: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return (rising, θ) from a table of level indices ``idx`` (rows: the increasing integer
    ``dots``, columns: neurons): each column must be monotone (else a one-line
    :class:`~bdd4bnn.errors.ModelError` naming ``where``); a rising column reaches level m
    from the dot θ[c, m − 1] on, a falling one from the dot −θ[c, m − 1] down (so that
    negating its weights makes it rising); dots past the table's end never reach it."""
    d = np.diff(idx, axis=0)
    up, down = (d >= 0).all(axis=0), (d <= 0).all(axis=0)
    bad = np.flatnonzero(~(up | down))
    if bad.size:
        from .errors import ModelError

        raise ModelError(f"{where} {bad[0]}: not monotone in its input (a non-step output)")
    seq = np.where(up[None, :], idx, idx[::-1])
    first = (seq[:, :, None] < np.arange(1, levels)).sum(axis=0)  # (cols, levels − 1)
    dots = np.asarray(dots, dtype=np.int64)
    theta = np.empty(first.shape, dtype=np.int64)
    for c in range(first.shape[0]):
        axis = dots if up[c] else -dots[::-1]
        theta[c] = np.where(
            first[c] < len(axis), axis[np.minimum(first[c], len(axis) - 1)], axis[-1] + 1
        )
    return up, theta


def block_forward(block: Block, x: np.ndarray) -> np.ndarray:
    """Return the outputs (int8, shape (N, out): ±1, or the block's levels) of ``block`` on
    inputs ``x`` (N, in). Dots of small integers are exact in binary64, and in binary32 when
    ``x`` is int8 and 128 · max |w| · in < 2^24 (every partial sum an exact integer)."""
    x = np.asarray(x)
    w = block.weight
    exact32 = x.dtype == np.int8 and 128 * block.max_abs_weight * w.shape[1] < 1 << 24
    if exact32:  # Wᵀ made once per block, not per call
        dot = (x.astype(np.float32) @ block.weight_t32).astype(np.float64)
    else:
        dot = x.astype(np.float64) @ w.T.astype(np.float64)
    if block.thresholds is not None:
        levels = np.asarray(block.levels, dtype=np.int8)
        return levels[level_index(block.thresholds, dot.astype(np.int64))]
    z = normalize(block, dot + block.bias)
    return np.where(z >= 0, 1, -1).astype(np.int8)


def hidden_forward(model: BNN, x: np.ndarray) -> np.ndarray:
    """Return the last hidden layer (int8 levels, ±1 in a BNN) for inputs ``x`` (N, n)."""
    h = np.asarray(x, dtype=np.int8)
    for block in model.blocks:
        h = block_forward(block, h)
    return h


def output_thresholds(
    output: OutputLayer, max_abs_weight: int | None = None, max_abs_input: int = 1
) -> np.ndarray:
    """Return K (int64, C×C): class c beats c' iff ``(W_c - W_c')·h >= K[c, c']``.

    Derived exactly from the binary64 biases: ``s_c - s_c' = D + (b_c - b_c')`` with D an
    integer; ties go to the lower index, so the comparison is ``>=`` when c < c' and ``>``
    when c > c'. The diagonal is 0. |D| never exceeds ``lim`` (the largest row sum of |W|,
    twice), so thresholds are clamped to ±(lim + 1), which changes no comparison and keeps
    huge biases within int64. ``max_abs_weight`` widens that clamp for weights that may
    change (faults): |D| ≤ 2·max_abs_weight·(columns); ``max_abs_input`` for inputs that
    are levels beyond ±1 (multi-level networks) scales the bound.
    """
    b = [Fraction(float(v)) for v in output.bias]
    c = len(b)
    rows = int(np.abs(output.weight.astype(np.int64)).sum(axis=1).max(initial=0))
    lim = 2 * max(1, int(max_abs_input)) * rows + 1
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

    The dots are exact in float32 BLAS while their magnitude bound (|h| ≤ 128 for int8 levels,
    times Σ|W|) is below 2^24, else they are taken in binary64.
    """
    h = np.asarray(h, dtype=np.int8)
    top = 128  # any int8 level: no pass over the data for a tighter bound
    bound = top * int(np.abs(output.weight.astype(np.int64)).sum(axis=1).max(initial=0))
    wide = np.float32 if bound < 1 << 24 else np.float64
    dots = h.astype(wide) @ output.weight.T.astype(wide)
    k = output_thresholds(output, max_abs_input=top)
    return predict_from_dots(dots.astype(np.int64), k)


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
