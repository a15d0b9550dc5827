"""Weight faults: exact analysis of stored weight bits that flip.

Storage (:class:`Storage`): binary weights take one bit each (a flip negates: ±1 → ∓1);
ternary models are stored as int2, two bits per weight in two's complement (−1 = 11,
0 = 00, +1 = 01), and a flipped pattern reads back as its value (10 reads −2).

For a fixed input the question is again a cardinality one. In a layer whose input vector is
v (±1), a weight w_ji read back as w′ moves neuron j's dot D by (w′ − w_ji)·v_i; for binary
weights, flipping a weights of P = {i : w_ji·v_i = +1} and b of the rest gives
D′ = D − 2a + 2b. Within a row, weights with the same (stored value, input) are alike, so a
row's flip sets are counted by (bits flipped, dot change) with multinomial coefficients, and
whether neuron j changes is read off the reference semantics
(:func:`bdd4bnn.semantics.neuron_fires` at D′; the output layer by its integer comparisons,
:func:`bdd4bnn.semantics.output_thresholds`, clamped for weights up to 2 in magnitude). Rows of
one layer hold disjoint weights, so given the layer's input its neurons change independently;
the next layer sees v′ (the fault-free values with the changed neurons negated), and so on.

* **counts** (:func:`fault_counts`): for each k ≤ K the number of sets of exactly k flipped
  bits, per resulting class. Per neuron, the polynomials Σ_k (#flip sets of its row of size k
  leaving it the same / changing it) z^k; a layer's changed set S is enumerated over the
  neurons that some ≤ K flips can change (the others' rows contribute their "same"
  polynomial to every S), each S recursing into the next layer with v′. Products are
  truncated at degree K; integers are exact, and each size adds up to C(N, k) (checked).
  Every count carries one witness flip set, so the smallest k that changes the decision
  (``min``) comes with a flip set, re-checked by inference on the faulted weights.
* **rate** (:func:`fault_rate`): every bit flips independently with probability p. A neuron
  changes with probability Σ_δ P(dot change δ)·[changed at D + δ] (binomials for binary rows,
  powers of one weight's law for int2). The changed sets S of a hidden layer are enumerated in
  decreasing probability down to a cut, each recursing; the mass below the cut goes to the
  upper bound only. At the last hidden layer (±1 output weights in binary storage) the
  decision depends on S only through the output dots: per class c, P(c beats the reference
  class) is exact from a dense programme over the pair (d_ref, d_c) (each neuron moves it by
  −2·W[·, j]·h_j with probability q_j), then the output faults (given the reference row's
  change the other rows are independent). P(decision changes) = P(∪_c A_c) lies in
  [max_c P(A_c), Σ_c P(A_c)]; the classes whose sum stays within a quarter of the width are
  bounded so, the union over the others comes from a sparse joint programme over their dots
  (states below the cut to the upper bound). Otherwise the output layer is exact per changed
  set. Sums are in float64 (all positive, 1 − Π(1 − x) as −expm1(Σ log1p(−x))) and the final
  interval is widened outward by 10⁻⁹ relative + 10⁻¹⁵ absolute (far above float64 rounding
  over these sums): the interval is rigorous. ``keep`` asks for P(decision ≠ keep) instead
  (with the true class: one minus the probability of staying or becoming correct).

Faults are in the weights of the layers in ``layers`` (0-based: hidden blocks, then the output
layer, index ``len(model.blocks)``); biases, batch norm and inputs are fault-free.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import LimitReached, RegionError
from ..model import BNN
from ..semantics import (
    block_forward,
    classify,
    neuron_fires,
    output_thresholds,
    predict_from_dots,
)
from .common import as_progress

__all__ = [
    "fault_counts",
    "fault_rate",
    "min_flips",
    "apply_flips",
    "simulate",
    "exact_accuracy",
    "FaultCounts",
]

Flip = tuple[int, int, int]  # (layer, row, column)


STORAGES = ("auto", "binary", "int2")


@dataclass(frozen=True)
class Storage:
    """How weights are stored: ``bits`` per weight; ``options(w)`` lists, for a stored value
    w, every nonempty set of flipped bits as (bit mask, bits flipped, value read back).

    * ``binary``: one bit per ±1 weight (FINN's bipolar: 1 is +1, 0 is −1); a flip negates.
    * ``int2``: two bits per weight in two's complement (QONNX INT2; −1 = 11, 0 = 00,
      +1 = 01). A flipped pattern reads back as its two's-complement value, so 10 reads −2:
      faults can leave the ternary set. Ternary models are stored so.
    """

    name: str
    bits: int

    def options(self, w: int) -> list[tuple[int, int, int]]:
        if self.name == "binary":
            return [(1, 1, -w)]
        code = w & 3
        return [(m, bin(m).count("1"), _INT2[code ^ m]) for m in (1, 2, 3)]


_INT2 = {0: 0, 1: 1, 2: -2, 3: -1}  # two's-complement 2-bit pattern → value


def storage_of(model: BNN, storage: str = "auto") -> Storage:
    """Return the storage: ``auto`` is ``int2`` when the model holds a zero weight (ternary),
    else ``binary``; ``binary`` is refused for ternary models."""
    if storage not in STORAGES:
        raise RegionError(f"faults: storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    if not model.is_binary:
        raise RegionError(f"faults: model {model.name} is multi-level: not supported yet")
    ternary = any((b.weight == 0).any() for b in model.blocks) or bool(
        (model.output.weight == 0).any()
    )
    if storage == "binary" and ternary:
        raise RegionError("faults: a ternary model cannot be stored in binary (use int2)")
    if storage == "int2" or (storage == "auto" and ternary):
        return Storage("int2", 2)
    return Storage("binary", 1)


def _check(
    model: BNN, x: Any, layers: Sequence[int] | None, storage: str = "auto"
) -> tuple[np.ndarray, frozenset, Storage]:
    st = storage_of(model, storage)
    v = np.asarray(x, dtype=np.int8).reshape(-1)
    if v.size != model.input_size or not np.isin(v, (-1, 1)).all():
        raise RegionError(f"faults: the input must be {model.input_size} values ±1")
    n_layers = len(model.blocks) + 1
    if layers is None:
        return v, frozenset(range(n_layers)), st
    out = set()
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise RegionError(f"faults: layer {layer!r} is not an integer")
        if not 0 <= int(layer) < n_layers:
            raise RegionError(f"faults: layer {layer} out of range 0..{n_layers - 1}")
        out.add(int(layer))
    return v, frozenset(out), st


def _check_class(model: BNN, c: Any, name: str) -> int | None:
    """Return the class ``c`` (None stays None), or a one-line error naming ``name``."""
    C = model.num_classes
    if c is not None and (
        isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < C
    ):
        raise RegionError(f"faults: {name} must be a class in 0..{C - 1}, got {c!r}")
    return None if c is None else int(c)


def _check_k(k: Any, n: int, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise RegionError(f"faults: {name} must be an integer, got {k!r}")
    if not 0 <= int(k) <= n:
        raise RegionError(f"faults: {name} must be in 0..{n} (the weight bits), got {k}")
    return int(k)


def weight_bits(model: BNN, layers: frozenset, storage: Storage | None = None) -> int:
    """Return the number of stored weight bits that may flip."""
    per = (storage or storage_of(model)).bits
    mats = [b.weight for b in model.blocks] + [model.output.weight]
    return per * sum(int(w.size) for i, w in enumerate(mats) if i in layers)


_KINDS = tuple((wv, xv) for wv in (-1, 0, 1) for xv in (-1, 1))  # (stored weight, input)


def _groups(w: np.ndarray, v: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Split a row's columns by (stored weight, input value): [(w, x, columns)], in
    ``_KINDS`` order, empty groups left out."""
    out = []
    for wv, xv in _KINDS:
        cols = np.flatnonzero((w == wv) & (v == xv))
        if cols.size:
            out.append((wv, xv, cols))
    return out


# --- polynomials in the number of flips, each coefficient with one witness flip set -------


@dataclass
class _Poly:
    c: list[int]  # c[k]: flip sets of size k
    w: list[tuple[Flip, ...] | None]  # a witness per nonzero coefficient

    @classmethod
    def one(cls, K: int) -> _Poly:
        return cls([1] + [0] * K, [()] + [None] * K)

    @classmethod
    def zero(cls, K: int) -> _Poly:
        return cls([0] * (K + 1), [None] * (K + 1))

    def mindeg(self) -> int | None:
        return next((k for k, v in enumerate(self.c) if v), None)

    def __mul__(self, other: _Poly) -> _Poly:
        K = len(self.c) - 1
        out = _Poly.zero(K)
        for i, a in enumerate(self.c):
            if not a:
                continue
            for j in range(K + 1 - i):
                b = other.c[j]
                if b:
                    out.c[i + j] += a * b
                    if out.w[i + j] is None:
                        out.w[i + j] = self.w[i] + other.w[j]  # type: ignore[operator]
        return out

    def add(self, other: _Poly) -> None:
        for k, v in enumerate(other.c):
            if v:
                self.c[k] += v
                if self.w[k] is None:
                    self.w[k] = other.w[k]


# a row's flip sets of at most K bits, by (bits flipped, dot change): [count, witness]
_GF = dict[tuple[int, int], list]


def _group_gf(K: int, wv: int, xv: int, cols: np.ndarray, st: Storage, layer: int, row: int) -> _GF:
    """Flip sets within one group of a row (columns with stored weight ``wv`` and input
    ``xv``): n_o weights take option o (distinct weights: a multinomial count); a weight
    read back as w′ changes the dot by (w′ − wv)·xv."""
    opts = [o for o in st.options(wv) if o[1] <= K]
    g = len(cols)
    out: _GF = {}

    def flips_of(col: int, mask: int) -> tuple[Flip, ...]:
        if st.name == "binary":
            return ((layer, row, int(col)),)
        return tuple((layer, row, int(col), b) for b in (0, 1) if mask >> b & 1)

    def rec(i: int, used: int, k: int, delta: int, count: int, wit: tuple) -> None:
        if i == len(opts):
            cell = out.setdefault((k, delta), [0, wit])
            cell[0] += count
            return
        mask, kb, new = opts[i]
        n = 0
        while used + n <= g and k + n * kb <= K:
            extra = tuple(f for col in cols[used : used + n] for f in flips_of(col, mask))
            rec(
                i + 1,
                used + n,
                k + n * kb,
                delta + n * (new - wv) * xv,
                count * math.comb(g - used, n),
                wit + extra,
            )
            n += 1

    rec(0, 0, 0, 0, 1, ())
    return out


def _row_gf(
    K: int, w: np.ndarray, v: np.ndarray, st: Storage, layer: int, row: int, flippable: bool
) -> _GF:
    """The row's flip sets of at most K bits by (bits, dot change), with witnesses."""
    acc: _GF = {(0, 0): [1, ()]}
    if not flippable:
        return acc
    for wv, xv, cols in _groups(w, v):
        gf = _group_gf(K, wv, xv, cols, st, layer, row)
        new: _GF = {}
        for (k1, d1), (c1, w1) in acc.items():
            for (k2, d2), (c2, w2) in gf.items():
                if k1 + k2 <= K:
                    cell = new.setdefault((k1 + k2, d1 + d2), [0, w1 + w2])
                    cell[0] += c1 * c2
        acc = new
    return acc


def _row_polys(K: int, gf: _GF, outcome) -> dict[Any, _Poly]:
    """Return {outcome(dot change): poly over the number of flipped bits}."""
    out: dict[Any, _Poly] = {}
    for (k, delta), (count, wit) in gf.items():
        p = out.setdefault(outcome(delta), _Poly.zero(K))
        p.c[k] += count
        if p.w[k] is None:
            p.w[k] = wit
    return out


@dataclass
class FaultCounts:
    """Per resulting class and flip count k, the flip sets of exactly k weights."""

    label: int
    per_class: list[list[int]]  # [class][k]
    witness: list[list[tuple[Flip, ...] | None]]  # [class][k]
    bits: int
    extra: dict = field(default_factory=dict)

    def changed(self) -> list[int]:
        K = len(self.per_class[0]) - 1
        return [
            sum(self.per_class[c][k] for c in range(len(self.per_class)) if c != self.label)
            for k in range(K + 1)
        ]


class _Counter:
    def __init__(
        self, model: BNN, layers: frozenset, K: int, st: Storage, budget_end: float | None
    ) -> None:
        self.model, self.layers, self.K, self.st, self.end = model, layers, K, st, budget_end
        self.kmat = output_thresholds(model.output, max_abs_weight=2)

    def _tick(self) -> None:
        if self.end is not None and time.perf_counter() > self.end:
            raise LimitReached("timeout: time limit exceeded")

    def layer(self, index: int, v: np.ndarray, K: int) -> list[_Poly]:
        """Return per final class the poly of flip sets in layers ≥ ``index`` (≤ K flips)."""
        self._tick()
        m = self.model
        if index == len(m.blocks):
            return self.output(v, K)
        block = m.blocks[index]
        h = block_forward(block, v[None, :])[0]
        flippable = index in self.layers
        changers: list[tuple[int, _Poly, _Poly]] = []
        rest = _Poly.one(K)
        for j in range(block.out_size):
            gf = _row_gf(K, block.weight[j], v, self.st, index, j, flippable)
            d = int(block.weight[j].astype(np.int64) @ v)
            deltas = sorted({delta for _, delta in gf})
            fires = neuron_fires(block, j, d + np.array(deltas, dtype=np.int64))
            orig = bool(neuron_fires(block, j, np.array([d]))[0])
            table = dict(zip(deltas, (fires != orig).tolist(), strict=True))
            polys = _row_polys(K, gf, table.__getitem__)
            same = polys.get(False, _Poly.zero(K))
            chg = polys.get(True)
            if chg is not None and chg.mindeg() is not None:
                changers.append((j, same, chg))
            else:
                rest = rest * same
        out = [_Poly.zero(K) for _ in range(m.num_classes)]

        def walk(t: int, acc: _Poly, flipped: list[int]) -> None:
            low = acc.mindeg()
            if low is None or low > K:
                return
            if t == len(changers):
                total = acc * rest
                low = total.mindeg()
                if low is None:
                    return
                nv = h.copy()
                nv[flipped] *= -1
                sub = self.layer(index + 1, nv, K - low)
                for c in range(m.num_classes):
                    padded = _Poly(sub[c].c + [0] * low, sub[c].w + [None] * low)
                    out[c].add(total * padded)
                return
            j, same, chg = changers[t]
            walk(t + 1, acc * same, flipped)
            walk(t + 1, acc * chg, [*flipped, j])

        walk(0, _Poly.one(K), [])
        return out

    def output(self, v: np.ndarray, K: int) -> list[_Poly]:
        m = self.model
        w = m.output.weight
        dots = w.astype(np.int64) @ v.astype(np.int64)
        C = m.num_classes
        flippable = len(m.blocks) in self.layers
        rows = [
            _row_polys(K, _row_gf(K, w[c], v, self.st, len(m.blocks), c, flippable), int)
            for c in range(C)
        ]
        out = [_Poly.zero(K) for _ in range(C)]

        def walk(c: int, acc: _Poly, delta: list[int]) -> None:
            low = acc.mindeg()
            if low is None or low > K:
                return
            if c == C:
                cls = int(predict_from_dots((dots + np.array(delta))[None, :], self.kmat)[0])
                out[cls].add(acc)
                return
            for d, p in rows[c].items():
                walk(c + 1, acc * p, [*delta, d])

        walk(0, _Poly.one(K), [])
        return out


def fault_counts(
    model: BNN,
    x: Any,
    max_flips: int,
    *,
    layers: Sequence[int] | None = None,
    storage: str = "auto",
    timeout: float | None = None,
) -> FaultCounts:
    """Return exact per-class counts of the sets of exactly k flipped weight bits,
    k = 0..max_flips (module docstring), each with a witness."""
    v, lay, st = _check(model, x, layers, storage)
    bits = weight_bits(model, lay, st)
    K = _check_k(max_flips, bits, "flips")
    end = None if timeout is None else time.perf_counter() + timeout
    polys = _Counter(model, lay, K, st, end).layer(0, v, K)
    label = int(classify(model, v))
    res = FaultCounts(label, [p.c for p in polys], [p.w for p in polys], bits)
    res.extra["storage"] = st.name
    for k in range(K + 1):  # every flip set of size k lands in exactly one class
        if sum(p.c[k] for p in polys) != math.comb(bits, k):  # pragma: no cover - invariant
            raise AssertionError("fault counts do not add up to C(N, k)")
    return res


def apply_flips(model: BNN, flips: Sequence[Sequence[int]]) -> BNN:
    """Return ``model`` with the flipped bits applied: a (layer, row, column) triple negates a
    binary weight; a (layer, row, column, bit) quadruple flips that bit of its int2 pattern
    (:class:`Storage`). The weights are not re-validated (int2 faults may read −2)."""
    from dataclasses import replace

    blocks = [replace(b, weight=b.weight.copy()) for b in model.blocks]
    out = replace(model.output, weight=model.output.weight.copy())
    for flip in flips:
        layer, row, col = (int(f) for f in flip[:3])
        w = out.weight if layer == len(blocks) else blocks[layer].weight
        if len(flip) == 3:
            w[row, col] = -w[row, col]
        else:
            w[row, col] = _INT2[(int(w[row, col]) & 3) ^ (1 << int(flip[3]))]
    return replace(model, blocks=tuple(blocks), output=out)


def min_flips(
    model: BNN,
    x: Any,
    max_flips: int,
    *,
    target: int | None = None,
    layers: Sequence[int] | None = None,
    storage: str = "auto",
    timeout: float | None = None,
) -> dict[str, Any]:
    """Return the smallest number of weight flips (≤ ``max_flips``) that changes the decision
    (to ``target`` when given), with a witness re-checked by inference on the faulted
    weights; ``min_flips`` None when no such set exists."""
    t0 = time.perf_counter()
    C = model.num_classes
    target = _check_class(model, target, "target")
    res = fault_counts(model, x, max_flips, layers=layers, storage=storage, timeout=timeout)
    want = [target] if target is not None else [c for c in range(C) if c != res.label]
    best = None
    for k in range(len(res.per_class[0])):
        hits = [c for c in want if c != res.label and res.per_class[c][k]]
        if hits:
            best = (k, hits[0], res.witness[hits[0]][k])
            break
    doc: dict[str, Any] = {
        "label": res.label,
        "min_flips": None,
        "flips": None,
        "faulted_class": None,
        "max_flips": len(res.per_class[0]) - 1,
        "weight_bits": res.bits,
        "storage": res.extra["storage"],
    }
    if best is not None:
        k, cls, flips = best
        got = int(classify(apply_flips(model, flips), np.asarray(x)))
        if got != cls or len(flips) != k:  # pragma: no cover - checked by the reference
            raise AssertionError("fault witness does not check")
        doc.update(min_flips=k, flips=[list(f) for f in flips], faulted_class=got)
    doc["seconds"] = time.perf_counter() - t0
    return doc


# --- rates ---------------------------------------------------------------------------------


def _binom_pmf(n: int, p: float) -> np.ndarray:
    if n == 0:
        return np.ones(1)
    if p == 0:
        out = np.zeros(n + 1)
        out[0] = 1
        return out
    if p == 1:
        out = np.zeros(n + 1)
        out[n] = 1
        return out
    k = np.arange(n + 1)
    logc = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in k])
    return np.exp(logc + k * math.log(p) + (n - k) * math.log1p(-p))


@functools.lru_cache(maxsize=4096)
def _diff_pmf(npos: int, nneg: int, p: float) -> tuple[np.ndarray, int]:
    """Return (pmf, offset): P(a − b = t) at index t + offset, a ~ Bin(npos), b ~ Bin(nneg)."""
    return np.convolve(_binom_pmf(npos, p), _binom_pmf(nneg, p)[::-1]), nneg


_TRIM = 1e-30  # int2 laws: tail entries below this are dropped, their mass kept as slack


def _trim(pmf: np.ndarray, off: int) -> tuple[np.ndarray, int, float]:
    """Drop the leading and trailing entries below ``_TRIM``: (pmf, offset, mass dropped)."""
    big = np.flatnonzero(pmf >= _TRIM)
    if big.size == 0:
        return pmf[:0], 0, float(pmf.sum())
    lo, hi = int(big[0]), int(big[-1]) + 1
    return pmf[lo:hi], off - lo, float(pmf[:lo].sum() + pmf[hi:].sum())


@functools.lru_cache(maxsize=65536)
def _int2_group_pmf(wv: int, xv: int, g: int, p: float) -> tuple[np.ndarray, int, float]:
    """(pmf, offset, slack) of the dot change of g int2 weights stored as ``wv`` under input
    ``xv`` (each bit flipping with probability p): one weight's law to the power g, by
    squaring, tails below ``_TRIM`` dropped after each product (their mass: ``slack``)."""
    one = np.zeros(7)  # dot changes −3..3
    one[3] = (1 - p) ** 2
    for _, k, new in Storage("int2", 2).options(wv):
        one[(new - wv) * xv + 3] += p**k * (1 - p) ** (2 - k)
    out, off, base, boff, slack = np.ones(1), 0, one, 3, 0.0
    while g:
        if g & 1:
            out, off, d = _trim(np.convolve(out, base), off + boff)
            slack += d
        g >>= 1
        if g:
            base, boff, d = _trim(np.convolve(base, base), 2 * boff)
            slack += d * g  # the squared law enters the result up to g more times
    return out, off, slack


def _row_pmf(
    w: np.ndarray, v: np.ndarray, p: float, st: Storage, flippable: bool
) -> tuple[np.ndarray, int, int, float]:
    """(pmf, offset, stride, slack) of a row's dot change: change = stride·(index − offset);
    ``slack`` bounds the mass missing from ``pmf`` (0 for binary rows, exact binomials)."""
    if not flippable or p == 0:
        return np.ones(1), 0, 1, 0.0
    if st.name == "binary":
        prod = w.astype(np.int64) * v
        return (*_binary_law(int((prod > 0).sum()), int((prod < 0).sum()), p), 0.0)
    w8, v8 = np.asarray(w, dtype=np.int8), np.asarray(v, dtype=np.int8)
    sizes = tuple(int(np.count_nonzero((w8 == wv) & (v8 == xv))) for wv, xv in _KINDS)
    return _int2_row_law(sizes, p)


def _binary_law(npos: int, nneg: int, p: float) -> tuple[np.ndarray, int, int]:
    """(pmf, offset, stride) of a binary row's dot change: a of its npos weights agreeing
    with the input and b of the nneg others flip, and the dot moves by −2(a − b)."""
    pmf, _ = _diff_pmf(npos, nneg, p)
    return pmf[::-1], npos, 2


@functools.lru_cache(maxsize=65536)
def _int2_row_law(sizes: tuple[int, ...], p: float) -> tuple[np.ndarray, int, int, float]:
    """A row's int2 law from its group sizes (``_KINDS`` order): the groups' laws convolved."""
    out, off, slack = np.ones(1), 0, 0.0
    for (wv, xv), g in zip(_KINDS, sizes, strict=True):
        if g:
            gp, goff, gs = _int2_group_pmf(wv, xv, g, p)
            out, off, d = _trim(np.convolve(out, gp), off + goff)
            slack += gs + d
    return out, off, 1, slack


class _Law(NamedTuple):
    """A row's fault law: P(dot change = stride·(i − off)) = pmf[i] (increasing changes);
    tail[i] = P(change ≥ stride·(i − off)), with a final 0."""

    pmf: np.ndarray
    off: int
    stride: int
    tail: np.ndarray


def _law(pmf: np.ndarray, off: int, stride: int) -> _Law:
    tail = np.clip(np.concatenate([np.cumsum(pmf[::-1])[::-1], [0.0]]), 0.0, 1.0)
    return _Law(pmf, off, stride, tail)


_TINY = 1e-30  # states (and output-fault terms) lighter than this are dropped into the slack


class _Rater:
    """Bounds on P(decision changes) given a layer's input (module docstring); ``cut`` is the
    probability below which changed sets / joint states are dropped (their mass goes to the
    upper bound only)."""

    def __init__(
        self, model: BNN, layers: frozenset, p: float, st: Storage, width: float, end, label: int
    ) -> None:
        self.model, self.layers, self.p, self.width, self.end = model, layers, p, width, end
        self.st = st
        self.label = label  # the reference class: the fault-free decision, or ``keep``
        self.cut = 1e-4
        self.kmat = output_thresholds(model.output, max_abs_weight=2)
        self.w = model.output.weight.astype(np.int64)
        self.n = int(self.w.shape[1])
        self.out_flip = len(model.blocks) in layers
        # the pair programmes need an output row's fault law to be a function of its dot:
        # ±1 weights, stored in binary (or not faulty)
        self.pairable = bool((self.w != 0).all()) and (st.name == "binary" or not self.out_flip)
        self._laws: dict[int, _Law] = {}
        self._pairs: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        # mass missing from trimmed int2 laws, summed over every row evaluated: the computed
        # probability is that of a process which differs from the real one only there
        self.slack = 0.0

    def _tick(self) -> None:
        if self.end is not None and time.perf_counter() > self.end:
            raise LimitReached("timeout: time limit exceeded")

    def _dot_law(self, d: int) -> _Law:
        """The fault law of a ±1 output row (binary storage) whose dot is d: a − b of its
        npos = (n + d)/2 agreeing and nneg disagreeing weights flip, its dot moves by −2(a − b)."""
        got = self._laws.get(d)
        if got is None:
            if not self.out_flip:
                got = _law(np.ones(1), 0, 1)
            else:
                got = _law(*_binary_law((self.n + d) // 2, (self.n - d) // 2, self.p))
            self._laws[d] = got
        return got

    def _beaten(
        self, dl: int, law: _Law, others: Sequence[tuple[int, int, _Law]]
    ) -> tuple[float, float]:
        """Return [lo, hi] of P(some class c of ``others`` = [(c, d_c, law_c)] beats the
        reference class, whose output dot is ``dl``), over the output rows' faults. Given the
        reference row's change δ the rows are independent, and the reference beats c iff
        δ_c ≤ dl + δ − d_c − K[ref, c]; 1 − Π(1 − P(c not beaten)) is computed as
        −expm1(Σ log1p(−·)) (no cancellation). Reference terms below ``_TINY`` go to hi."""
        pl, offl, sl, _ = law
        dlt = sl * (np.arange(len(pl)) - offl)
        keep = pl > _TINY
        slack = float(pl[~keep].sum())
        pl, dlt = pl[keep], dlt[keep]
        logkeep = np.zeros(len(pl))
        with np.errstate(divide="ignore"):
            for c, dc, (pc, offc, sc, tail) in others:
                bound = dl + dlt - dc - int(self.kmat[self.label, c])
                first = np.clip(bound // sc + offc + 1, 0, len(pc))  # first δ_c > bound
                logkeep += np.log1p(-tail[first])
        lo = float(pl @ -np.expm1(logkeep))
        return lo, lo + slack

    def _lose(self, dl: int, dcs: Sequence[int], cls: Sequence[int]) -> tuple[float, float]:
        """[lo, hi] of P(some class of ``cls`` beats the reference | output dots dl, dcs), for
        ±1 output rows stored in binary (their laws depend on their dots only)."""
        others = [(c, int(dc), self._dot_law(int(dc))) for c, dc in zip(cls, dcs, strict=True)]
        return self._beaten(dl, self._dot_law(dl), others)

    def _pair_dp(self, h: np.ndarray, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per class c ≠ label, [lo, hi] of P(c beats the label) exactly: a dense dynamic
        programme over the pair of output dots (d_label, d_c), every last-layer neuron j
        moving them by −2·W[·, j]·h_j with probability q_j; then the output faults."""
        n, w, lab = self.n, self.w, self.label
        d0 = w @ h.astype(np.int64)
        C = self.model.num_classes
        lo, hi = np.zeros(C), np.zeros(C)
        active = [int(j) for j in np.flatnonzero(qs > 0)]
        for c in range(C):
            if c == lab:
                continue
            A = np.zeros((n + 1, n + 1))
            A[(d0[lab] + n) // 2, (d0[c] + n) // 2] = 1.0
            for j in active:
                q = float(qs[j])
                a, b = -int(w[lab, j] * h[j]), -int(w[c, j] * h[j])  # index shifts, ±1
                moved = np.zeros_like(A)
                moved[max(a, 0) : n + 1 + min(a, 0), max(b, 0) : n + 1 + min(b, 0)] = A[
                    max(-a, 0) : n + 1 + min(-a, 0), max(-b, 0) : n + 1 + min(-b, 0)
                ]
                A = A * (1 - q) + moved * q
            self._tick()
            heavy = A > _TINY
            slack = float(A[~heavy].sum())
            total = 0.0
            for i in np.flatnonzero(heavy.any(axis=1)):  # :meth:`_beaten`, vectorised
                js = np.flatnonzero(heavy[i])
                dl = 2 * int(i) - n
                pl, offl, sl, _ = self._dot_law(dl)
                dlt = sl * (np.arange(len(pl)) - offl)
                keep = pl > _TINY
                slack += float(pl[~keep].sum()) * float(A[i, js].sum())
                dcs = 2 * js - n
                laws = [self._dot_law(int(d)) for d in dcs]
                tails = np.stack([law.tail for law in laws])  # (J, len + 1), same lengths
                offs = np.array([law.off for law in laws])
                bound = dl + dlt[keep][:, None] - dcs[None, :] - int(self.kmat[lab, c])
                first = np.clip(bound // laws[0].stride + offs[None, :] + 1, 0, tails.shape[1] - 1)
                got = tails[np.arange(len(js))[None, :], first]  # P(c not beaten | δ_l)
                total += float(A[i, js] @ (pl[keep] @ got))
            lo[c], hi[c] = total, total + slack
        return lo, hi

    def changed(self, index: int, v: np.ndarray) -> tuple[float, float]:
        """Return [lo, hi] of P(decision differs from the reference class | layer input v)."""
        self._tick()
        m = self.model
        if index == len(m.blocks):
            return self._out_change(v)
        h, qs = self._qs(index, v)
        if index == len(m.blocks) - 1 and self.pairable:
            return self._last(v, h, qs)
        base = float(np.prod(1 - qs))
        order = [int(j) for j in np.argsort(-qs) if qs[j] > 0]
        lo = hi = seen = 0.0
        stack = [(0, 1.0, ())]  # (next position in order, Π q/(1−q) so far, changed set)
        # a depth-first walk over changed sets in order of q: extending a set by a later
        # (smaller q) neuron can only lower its probability, so a set below the cut ends
        # its branch only for the later positions (the usual subset-sum pruning)
        while stack:
            pos, ratio, S = stack.pop()
            prob = base * ratio if base > 0 else _prob(qs, S)
            if prob < self.cut and S:
                continue
            nv = h.copy()
            if S:
                nv[list(S)] *= -1
            a, b = self.changed(index + 1, nv)
            lo += prob * a
            hi += prob * b
            seen += prob
            for t in range(pos, len(order)):
                j = order[t]
                if qs[j] >= 1.0:
                    continue
                r = ratio * qs[j] / (1 - qs[j])
                if (base * r if base > 0 else _prob(qs, (*S, j))) < self.cut:
                    break  # later neurons have smaller q
                stack.append((t + 1, r, (*S, j)))
        return lo, min(1.0, hi + max(0.0, 1.0 - seen))

    def _qs(self, index: int, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (h, q): the block's fault-free outputs and each neuron's change probability."""
        block = self.model.blocks[index]
        h = block_forward(block, v[None, :])[0]
        flippable = index in self.layers
        qs = np.zeros(block.out_size)
        for j in range(block.out_size):
            pmf, off, stride, slack = _row_pmf(block.weight[j], v, self.p, self.st, flippable)
            self.slack += slack
            d = int(block.weight[j].astype(np.int64) @ v)
            fires = neuron_fires(block, j, d + stride * (np.arange(len(pmf)) - off))
            orig = bool(neuron_fires(block, j, np.array([d]))[0])
            qs[j] = float(pmf[fires != orig].sum())
        return h, np.clip(qs, 0.0, 1.0)

    def _out_change(self, hv: np.ndarray) -> tuple[float, float]:
        """[lo, hi] of P(the decision differs from the reference | last hidden values ``hv``),
        over the output rows' faults (:meth:`_beaten`, each row's law from its weights)."""
        hv = hv.astype(np.int64)
        dots = self.w @ hv
        laws = []
        for c in range(self.model.num_classes):
            pmf, off, stride, slack = _row_pmf(
                self.model.output.weight[c], hv, self.p, self.st, self.out_flip
            )
            laws.append(_law(pmf, off, stride))
            self.slack += slack
        lab = self.label
        others = [(c, int(dots[c]), laws[c]) for c in range(len(laws)) if c != lab]
        return self._beaten(int(dots[lab]), laws[lab], others)

    def _last(self, v: np.ndarray, h: np.ndarray, qs: np.ndarray) -> tuple[float, float]:
        """The last hidden layer. Per class c, P(c beats the label) = P(A_c) comes exactly from
        a two-dimensional programme (:meth:`_pair_dp`); P(decision changes) = P(∪ A_c). The
        classes are sorted by P(A_c); those of the tail whose sum stays within a quarter of
        the width are bounded by that sum (union bound), and the union over the others by a
        joint programme over their output dots (states below the cut dropped, their mass to
        the upper bound); max_c P(A_c) ≤ P(∪) ≤ Σ_c P(A_c) always."""
        key = v.tobytes()
        if key not in self._pairs:
            self._pairs[key] = self._pair_dp(h, qs)
        plo, phi = self._pairs[key]
        cls = [int(c) for c in np.argsort(-phi) if c != self.label]
        rest, kept = 0.0, list(cls)
        while kept and rest + phi[kept[-1]] <= self.width / 4:
            rest += phi[kept.pop()]
        best_lo, union_hi = float(plo.max()), float(phi.sum())
        if len(kept) <= 1:
            lo = float(plo[kept[0]]) if kept else best_lo
            hi = (float(phi[kept[0]]) if kept else 0.0) + rest
            return max(lo, best_lo), min(1.0, hi, union_hi)
        jlo, jhi = self._joint(h, qs, kept)
        return max(jlo, best_lo), min(1.0, jhi + rest, union_hi)

    def _joint(self, h: np.ndarray, qs: np.ndarray, cls: list[int]) -> tuple[float, float]:
        """[lo, hi] of P(some class of ``cls`` beats the label): a sparse programme over the
        output dots of the label and ``cls``, states below the cut dropped."""
        rows = [self.label, *cls]
        w = self.w[rows]
        states = {tuple((w @ h.astype(np.int64)).tolist()): 1.0}
        dropped = 0.0
        for j in np.argsort(-qs):
            q = float(qs[j])
            if q <= 0:
                continue
            step = (-2 * w[:, j] * int(h[j])).tolist()
            new: dict[tuple, float] = {}
            for n_done, (key, pr) in enumerate(states.items()):
                if n_done % 4096 == 4095:
                    self._tick()
                moved = tuple(a + b for a, b in zip(key, step, strict=True))
                for k2, p2 in ((key, pr * (1 - q)), (moved, pr * q)):
                    if p2 < self.cut:
                        dropped += p2
                    else:
                        new[k2] = new.get(k2, 0.0) + p2
            states = new
            self._tick()
        lo = hi = 0.0
        for i, (key, pr) in enumerate(states.items()):
            a, b = self._lose(key[0], key[1:], cls)
            lo += pr * a
            hi += pr * b
            if i % 64 == 63:
                self._tick()
        return lo, min(1.0, hi + dropped)


def _prob(qs: np.ndarray, S: Sequence[int]) -> float:
    inside = set(S)
    return float(np.prod([q if j in inside else 1 - q for j, q in enumerate(qs)]))


def fault_rate(
    model: BNN,
    x: Any,
    ber: Any,
    *,
    layers: Sequence[int] | None = None,
    storage: str = "auto",
    keep: int | None = None,
    width: float = 1e-6,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Return a rigorous interval [lo, hi] for the probability that the decision on ``x``
    changes when every stored weight bit flips independently with probability ``ber``
    (with ``keep``: that the decision is not the class ``keep``, e.g. the true one)."""
    v, lay, st = _check(model, x, layers, storage)
    (p,) = _check_bers([ber])
    t0 = time.perf_counter()
    end = None if timeout is None else t0 + timeout
    label = int(classify(model, v))
    keep = _check_class(model, keep, "keep")
    ref = label if keep is None else keep
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 1:
        raise RegionError(f"faults: width must be in (0, 1], got {width!r}")
    # the cut starts coarse (a first interval fast) and shrinks tenfold per pass until the
    # width is met (a pass costs about ten times the one before: the total is the last
    # pass's, within 10 %); a limit reports the last finished pass's interval
    rater = _Rater(model, lay, p, st, float(width), end, ref)
    lo, hi, status, reason = 0.0, 1.0, "ok", None
    try:
        while True:
            rater.slack = 0.0
            lo, hi = rater.changed(0, v)
            lo, hi = max(0.0, lo - rater.slack), min(1.0, hi + rater.slack)
            if hi - lo <= width or rater.cut < 1e-300:
                break
            rater.cut /= 10
    except LimitReached as exc:
        status, reason = "unknown", str(exc)
    lo = max(0.0, lo * (1 - 1e-9) - 1e-15)
    hi = min(1.0, hi * (1 + 1e-9) + 1e-15)
    doc: dict[str, Any] = {
        "status": status,
        "label": label,
        "keep": ref,
        "ber": p,
        "storage": st.name,
        "lo": lo,
        "hi": hi,
        "width": hi - lo,
        "method": "pair and joint programmes over output dots; float64 widened outward",
        "reason": reason,
        "seconds": time.perf_counter() - t0,
    }
    return doc


# --- fault injection on the fast kernels ----------------------------------------------------


def _faulted(model: BNN, rng: np.random.Generator, p: float, layers: frozenset, st: Storage) -> BNN:
    """Return ``model`` with every stored weight bit of ``layers`` flipped with probability
    ``p`` (binary: a flip negates; int2: each of the two bits of the pattern)."""
    from dataclasses import replace

    decode = np.array([_INT2[c] for c in range(4)], dtype=np.int8)

    def flip(w: np.ndarray, on: bool) -> np.ndarray:
        if not on or p == 0:
            return w
        if st.name == "binary":
            return np.where(rng.random(w.shape) < p, -w, w).astype(w.dtype)
        mask = (rng.random(w.shape) < p).astype(np.int8) | (
            (rng.random(w.shape) < p).astype(np.int8) << 1
        )
        return decode[(w.astype(np.int8) & 3) ^ mask]

    blocks = tuple(
        replace(b, weight=flip(b.weight, i in layers)) for i, b in enumerate(model.blocks)
    )
    out = replace(model.output, weight=flip(model.output.weight, len(blocks) in layers))
    return replace(model, blocks=blocks, output=out)


def _check_bers(bers: Any) -> list[float]:
    out = []
    for b in bers:
        if isinstance(b, bool) or not isinstance(b, (int, float, np.integer, np.floating)):
            raise RegionError(f"faults: ber must be a number, got {b!r}")
        if not (math.isfinite(float(b)) and 0 <= float(b) <= 1):
            raise RegionError(f"faults: ber must be in [0, 1], got {b!r}")
        out.append(float(b))
    if not out:
        raise RegionError("faults: give at least one ber")
    return out


def simulate(
    model: BNN,
    x: np.ndarray,
    labels: np.ndarray,
    bers: Sequence[float],
    *,
    trials: int = 100,
    seed: int = 0,
    path: str = "auto",
    layers: Sequence[int] | None = None,
    storage: str = "auto",
    confidence: float = 0.95,
    timeout: float | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Return, per BER, the accuracy on ``x`` (true classes ``labels``) of ``trials`` models
    whose weights were each flipped at random with that probability, run on the fast
    kernels (:func:`bdd4bnn.kernels.predict`), with a Wilson interval over all
    trials × inputs (a fault pattern is shared by the inputs of its trial)."""
    from statistics import NormalDist

    from ..kernels.predict import check_path
    from ..kernels.predict import predict as fast_predict
    from .crosscheck import wilson

    xs = np.atleast_2d(np.asarray(x, dtype=np.int8))
    ys = np.asarray(labels).reshape(-1)
    _, lay, st = _check(model, xs[0], layers, storage)
    ps = _check_bers(bers)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise RegionError(f"faults: trials must be an integer >= 1, got {trials!r}")
    if len(ys) != len(xs):
        raise RegionError(f"faults: {len(xs)} inputs but {len(ys)} labels")
    used = check_path(path)
    if st.name == "int2" and used in ("packed", "triton"):
        raise RegionError(f"faults: path {used} cannot run int2 faults (weights may read −2)")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    end = None if timeout is None else t0 + timeout
    rows, status, reason, infer_s, n_inf = [], "ok", None, 0.0, 0
    bar = as_progress(progress)
    bar.start(len(ps) * trials, "trial")
    for p in ps:
        correct = n = 0
        for _ in range(trials):
            if end is not None and time.perf_counter() > end:
                status, reason = "unknown", f"timeout: {timeout:g} s exceeded"
                break
            faulted = _faulted(model, rng, p, lay, st)
            t1 = time.perf_counter()
            pred = fast_predict(faulted, xs, used)
            infer_s += time.perf_counter() - t1
            n_inf += len(xs)
            correct += int((pred == ys).sum())
            n += len(xs)
            bar(1)
        lo, hi = wilson(correct, n, z)
        rows.append({"ber": p, "accuracy": correct / n if n else None, "lo": lo, "hi": hi, "n": n})
        if status != "ok":
            break
    return {
        "status": status,
        "reason": reason,
        "path": used,
        "storage": st.name,
        "trials": trials,
        "inputs": len(xs),
        "confidence": confidence,
        "curve": rows,
        "inferences_per_second": n_inf / infer_s if infer_s > 0 else None,
        "seconds": time.perf_counter() - t0,
    }


def exact_accuracy(
    model: BNN,
    x: np.ndarray,
    labels: np.ndarray,
    ber: float,
    *,
    layers: Sequence[int] | None = None,
    storage: str = "auto",
    width: float = 1e-6,
    timeout: float | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Return a rigorous interval of the expected accuracy on ``x`` at BER ``ber``: input i
    stays (or becomes) correct with probability 1 − P(decision ≠ labels[i]), bounded by
    :func:`fault_rate` with ``keep`` the true class."""
    xs = np.atleast_2d(np.asarray(x, dtype=np.int8))
    ys = np.asarray(labels).reshape(-1)
    t0 = time.perf_counter()
    lo = hi = 0.0
    status = "ok"
    bar = as_progress(progress)
    bar.start(len(xs), "input")
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
        # an equal share of what is left for each input still to do
        left = (
            None
            if timeout is None
            else max(1e-3, (timeout - (time.perf_counter() - t0)) / (len(xs) - i))
        )
        r = fault_rate(
            model, xi, ber, layers=layers, storage=storage, keep=int(yi), width=width, timeout=left
        )
        status = "unknown" if r["status"] != "ok" else status
        lo += 1 - r["hi"]
        hi += 1 - r["lo"]
        bar(1)
    n = max(len(xs), 1)
    return {
        "status": status,
        "ber": float(ber),
        "lo": lo / n,
        "hi": hi / n,
        "inputs": len(xs),
        "seconds": time.perf_counter() - t0,
    }
