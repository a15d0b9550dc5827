r"""Multi-level networks as binarized networks over thermometer bits.

**Lemma (thermometer literals).** Let the inputs of a block take levels
:math:`u_0 < \dots < u_{M-1}` and write :math:`b_{i,m} = [x_i \ge u_m]` (m = 1..M−1; a chain
:math:`b_{i,1} \ge b_{i,2} \ge \dots`), so :math:`x_i = u_0 + \sum_m d_m b_{i,m}` with steps
:math:`d_m = u_m - u_{m-1} > 0`. With :math:`s = 2b - 1 \in \{\pm 1\}` and
:math:`a_{jim} = w_{ji} d_m f / 2` (f = 1 when every step is even, else 2, so that a is an
integer):

.. math:: f D_j = C_j + \sum_{i,m} a_{jim} s_{i,m},
          \qquad C_j = f u_0 \sum_i w_{ji} + \sum_{i,m} a_{jim},

hence :math:`[D_j \ge \theta] \iff \sum a\,s + (C_j - f\theta) \ge 0`: a sign neuron whose
weights are ±1 on :math:`|a_{jim}|` copies of the bit :math:`s_{i,m}` and whose bias is
:math:`C_j - f\theta` — a cardinality constraint over a literal multiset, as every engine
reads. A neuron with L levels has L − 1 thermometer bits :math:`[h_j \ge v_t] = [D_j \ge
\theta_{j,t}]`, a chain because the thresholds are sorted; a sign block (bias, batch norm) on
multi-level inputs gets its one integer threshold on D from
:func:`bdd4bnn.semantics.level_steps` (a falling step negates the weights). Derivation and
engine consequences: ``docs/multilevel.md``.

:func:`unfold` applies the lemma block by block: the result is an ordinary BNN (±1 inputs,
ternary weights, sign blocks) whose inputs are the thermometer bits of the source's inputs
(pixel-major: input i's bits adjacent), whose hidden layers are the bits of the source's
neurons (each repeated as often as the next layer's largest coefficient needs; bits of the
inputs are repeated by a leading copy block when needed) and whose output scores are f times
the source's, so both predict the same class on every input whose bits form chains.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import ModelError
from .model import BINARY_LEVELS, BNN, Block, InputQuantizer, OutputLayer
from .semantics import dot_range, level_steps

__all__ = ["Thermometer", "unfold"]


@dataclass(frozen=True, eq=False)
class Thermometer:
    """A network and its thermometer form: ``model`` reads ``bits`` per input of ``source``."""

    source: BNN
    model: BNN  # the binarized form (the source itself when it is binary)

    @property
    def bits(self) -> int:
        """Return the number of thermometer bits per input (levels − 1)."""
        return len(self.source.input_levels) - 1

    def to_bits(self, x: np.ndarray) -> np.ndarray:
        """Return the ±1 thermometer bits (int8, (N, n·bits)) of inputs ``x`` given as levels."""
        x = np.atleast_2d(np.asarray(x))
        u = np.asarray(self.source.input_levels[1:])
        bits = np.where(x[:, :, None] >= u, 1, -1).astype(np.int8)
        return bits.reshape(x.shape[0], -1)

    def to_levels(self, bits: np.ndarray) -> np.ndarray:
        """Return the input levels (int8, (N, n)) of thermometer bits (chains)."""
        b = np.atleast_2d(np.asarray(bits)).reshape(-1, self.source.input_size, self.bits)
        levels = np.asarray(self.source.input_levels, dtype=np.int8)
        return levels[(b > 0).sum(axis=2)]


@dataclass
class _Layer:
    """The unfolded columns of one source layer: ``cols[i][m]`` lists the copies of unit i's
    bit m + 1, and ``levels`` its levels."""

    levels: tuple[int, ...]
    cols: list[list[list[int]]]

    @property
    def scale(self) -> int:
        """Return f of the lemma for this layer's levels (:func:`_scale`)."""
        return _scale(self.levels)

    def coefficients(self, weight_row: np.ndarray) -> tuple[dict[tuple[int, int], int], int]:
        """Return ({(unit, bit): a}, C) of the lemma for one row of weights."""
        f, u = self.scale, self.levels
        steps = np.diff(u)
        a: dict[tuple[int, int], int] = {}
        total = 0
        for i in np.flatnonzero(weight_row):
            w = int(weight_row[i])
            for m, d in enumerate(steps):
                a[(int(i), m)] = w * int(d) * f // 2
                total += a[(int(i), m)]
        return a, f * u[0] * int(np.asarray(weight_row, dtype=np.int64).sum()) + total

    def row(self, a: dict[tuple[int, int], int], width: int) -> np.ndarray:
        """Return the ternary weight row over the unfolded columns for coefficients ``a``."""
        out = np.zeros(width, dtype=np.int8)
        for (i, m), v in a.items():
            copies = self.cols[i][m]
            if abs(v) > len(copies):  # pragma: no cover - multiplicities come from need()
                raise AssertionError("too few copies of a thermometer bit")
            out[copies[: abs(v)]] = 1 if v > 0 else -1
        return out


def _scale(levels: tuple[int, ...]) -> int:
    """Return f: 1 when every step between the levels is even, else 2."""
    return 1 if (np.diff(levels) % 2 == 0).all() else 2


def _need(weight: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    """Return the copies (units, bits) each bit needs: its largest |coefficient|, at least 1."""
    steps, f = np.diff(levels), _scale(levels)
    top = np.abs(weight.astype(np.int64)).max(axis=0)  # per unit
    return np.maximum(1, top[:, None] * steps[None, :] * f // 2)


def _unfold_block(
    block: Block, layer: _Layer, width: int, copies: np.ndarray
) -> tuple[list[np.ndarray], list[float], _Layer]:
    """Return the unfolded rows and biases of ``block`` and the layer of its outputs."""
    f = layer.scale
    rows: list[np.ndarray] = []
    bias: list[float] = []
    cols: list[list[list[int]]] = []
    for j in range(block.out_size):
        a, c = layer.coefficients(block.weight[j])
        plain = layer.row(a, width)
        steps = level_steps(block, j, dot_range(block.weight[j], layer.levels))
        unit: list[list[int]] = []
        for t, (direction, theta) in enumerate(steps):
            if direction == 0:
                w, b = np.zeros(width, dtype=np.int8), 0.0 if theta else -1.0
            elif direction > 0:
                w, b = plain, float(c - f * theta)
            else:
                w, b = -plain, float(f * theta - c)
            unit.append(list(range(len(rows), len(rows) + int(copies[j, t]))))
            rows.extend([w] * int(copies[j, t]))
            bias.extend([b] * int(copies[j, t]))
        cols.append(unit)
    return rows, bias, _Layer(block.levels, cols)


def _exact_sum(value: float, integer: int, what: str) -> float:
    out = float(Fraction(value) + integer)
    if Fraction(out) != Fraction(value) + integer:
        raise ModelError(f"{what}: bias {value!r} shifted by {integer} is not exact in binary64")
    return out


_FORMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def unfold(model: BNN) -> Thermometer:
    """Return the thermometer form of ``model`` (module docstring; ``model`` itself when it is
    already a BNN). The form is kept while ``model`` lives, so that every query on one network
    meets the same form (and the engines' per-model tables)."""
    if model.is_binary:
        return Thermometer(model, model)
    form = _FORMS.get(model)
    if form is None:
        form = _FORMS[model] = _unfold(model)
    return form


def _unfold(model: BNN) -> Thermometer:
    levels_in = model.input_levels
    n, bits = model.input_size, len(levels_in) - 1
    consumers = [b.weight for b in model.blocks] + [model.output.weight]
    blocks: list[Block] = []
    layer = _Layer(levels_in, [[[i * bits + m] for m in range(bits)] for i in range(n)])
    width = n * bits
    need = _need(consumers[0], levels_in)
    if (need > 1).any():  # a leading block copies the input bits the first block repeats
        rows, cols = [], []
        for i in range(n):
            unit = []
            for m in range(bits):
                one = np.zeros(width, dtype=np.int8)
                one[i * bits + m] = 1
                unit.append(list(range(len(rows), len(rows) + int(need[i, m]))))
                rows.extend([one] * int(need[i, m]))
            cols.append(unit)
        blocks.append(Block(np.stack(rows), np.zeros(len(rows))))
        layer, width = _Layer(levels_in, cols), len(rows)
    for index, block in enumerate(model.blocks):
        copies = _need(consumers[index + 1], block.levels)
        rows, bias, nxt = _unfold_block(block, layer, width, copies)
        blocks.append(Block(np.stack(rows), np.asarray(bias)))
        layer, width = nxt, len(rows)
    out_rows, out_bias = [], []
    for c in range(model.num_classes):
        a, k = layer.coefficients(model.output.weight[c])
        out_rows.append(layer.row(a, width))
        scaled = float(model.output.bias[c]) * layer.scale  # exact: a power of two
        out_bias.append(_exact_sum(scaled, k, f"output.bias[{c}]"))
    q = model.quantizer
    quantizer = None
    if q is not None:
        quantizer = InputQuantizer(q.raw, q.low, q.high, q.steps.reshape(-1).copy())
    meta = dict(model.metadata)
    meta["name"] = f"{model.name} (thermometer form)"
    unfolded = BNN(
        n * bits,
        tuple(blocks),
        OutputLayer(np.stack(out_rows), np.asarray(out_bias)),
        meta,
        quantizer,
        BINARY_LEVELS,
    )
    return Thermometer(model, unfolded)
