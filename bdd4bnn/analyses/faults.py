"""Weight faults: exact analysis of stored weight bits that flip (binary weights: ±1 → ∓1).

For a fixed input the question is again a cardinality one. In a layer whose input vector is
v (±1), neuron j's dot is D = |P| − |N| with P = {i : W_ji·v_i = +1} and N the rest; flipping
a weights of P and b of N gives D′ = D − 2a + 2b (a flipped weight times its input changes
sign). So whether neuron j changes is a function of (a, b) alone, read off the reference
semantics (:func:`bdd4bnn.semantics.neuron_fires` at D′; the output layer by its integer
comparisons, :func:`bdd4bnn.semantics.output_thresholds`). Rows of one layer hold disjoint
weights, so given the layer's input its neurons change independently; the next layer sees v′
(the fault-free values with the changed neurons negated) and the same holds again.

* **counts** (:func:`fault_counts`): for each k ≤ K the number of flip sets of exactly k
  weights, per resulting class. Per neuron, the polynomials Σ_k (#flip sets of its row of size
  k leaving it the same / changing it) z^k (sums of C(|P|, a)·C(|N|, b)); a layer's changed set
  S is enumerated over the neurons that some ≤ K flips can change (the others keep their value
  for any ≤ K flips: their row contributes (1+z)^row to every S), each S recursing into the
  next layer with v′. Products are truncated at degree K; integers are exact. Every count
  carries one witness flip set, so the smallest k that changes the decision (``min``) comes
  with a flip set, re-checked by inference on the faulted weights.
* **rate** (:func:`fault_rate`): every weight flips independently with probability p. A
  neuron changes with probability Σ_t P(a − b = t)·[changed at D − 2t] (a, b binomial); the
  changed sets S of a layer are enumerated in decreasing probability down to a cut, each
  recursing, and the mass below the cut is added to the upper bound only. The output layer
  is exact: given the label's own delta, the other classes' rows are independent, so
  P(label kept) = Σ_d P(d_label = d) Π_c P(d_c ≤ bound_c(d)). Sums are in float64 with the
  final interval widened outward by 10⁻⁹ relative + 10⁻¹⁵ absolute (a bound on float64
  rounding over these sums, far above it): the interval is rigorous.

Faults are in the weights of the layers in ``layers`` (0-based: hidden blocks, then the output
layer, index ``len(model.blocks)``); biases, batch norm and inputs are fault-free. Binary
weights only (ternary and 2-bit storage encodings are not modelled yet: refused).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


def _check(model: BNN, x: Any, layers: Sequence[int] | None) -> tuple[np.ndarray, frozenset]:
    if any((b.weight == 0).any() for b in model.blocks) or (model.output.weight == 0).any():
        raise RegionError("faults: ternary weights are not supported yet (binary weights only)")
    v = np.asarray(x, dtype=np.int8).reshape(-1)
    if v.size != model.input_size or not np.isin(v, (-1, 1)).all():
        raise RegionError(f"faults: the input must be {model.input_size} values ±1")
    n_layers = len(model.blocks) + 1
    if layers is None:
        return v, frozenset(range(n_layers))
    out = set()
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise RegionError(f"faults: layer {layer!r} is not an integer")
        if not 0 <= int(layer) < n_layers:
            raise RegionError(f"faults: layer {layer} out of range 0..{n_layers - 1}")
        out.add(int(layer))
    return v, frozenset(out)


def _check_k(k: Any, n: int, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise RegionError(f"faults: {name} must be an integer, got {k!r}")
    if not 0 <= int(k) <= n:
        raise RegionError(f"faults: {name} must be in 0..{n} (the weight bits), got {k}")
    return int(k)


def weight_bits(model: BNN, layers: frozenset) -> int:
    """Return the number of stored weight bits that may flip."""
    mats = [b.weight for b in model.blocks] + [model.output.weight]
    return sum(int(w.size) for i, w in enumerate(mats) if i in layers)


# --- polynomials in the number of flips, each coefficient with one witness flip set -------


@dataclass
class _Poly:
    c: list[int]  # c[k]: flip sets of size k
    w: list[tuple[Flip, ...] | None]  # a witness per nonzero coefficient

    @classmethod
    def one(cls, K: int) -> _Poly:
        return cls([1] + [0] * K, [()] + [None] * K)

    def mindeg(self) -> int | None:
        return next((k for k, v in enumerate(self.c) if v), None)

    def __mul__(self, other: _Poly) -> _Poly:
        K = len(self.c) - 1
        c = [0] * (K + 1)
        w: list[tuple[Flip, ...] | None] = [None] * (K + 1)
        for i, a in enumerate(self.c):
            if not a:
                continue
            for j in range(K + 1 - i):
                b = other.c[j]
                if b:
                    c[i + j] += a * b
                    if w[i + j] is None:
                        w[i + j] = self.w[i] + other.w[j]  # type: ignore[operator]
        return _Poly(c, w)

    def add(self, other: _Poly) -> None:
        for k, v in enumerate(other.c):
            if v:
                self.c[k] += v
                if self.w[k] is None:
                    self.w[k] = other.w[k]


def _row_polys(
    K: int, pos: np.ndarray, neg: np.ndarray, outcome, layer: int, row: int
) -> dict[Any, _Poly]:
    """Return {outcome: poly} over the flip sets of one row: ``a`` of the weights at columns
    ``pos`` (their product with the input is +1) and ``b`` of ``neg``; ``outcome(t)`` is the
    row's result when a − b = t."""
    out: dict[Any, _Poly] = {}
    for a in range(min(K, len(pos)) + 1):
        for b in range(min(K - a, len(neg)) + 1):
            key = outcome(a - b)
            p = out.setdefault(key, _Poly([0] * (K + 1), [None] * (K + 1)))
            p.c[a + b] += math.comb(len(pos), a) * math.comb(len(neg), b)
            if p.w[a + b] is None:
                p.w[a + b] = tuple((layer, row, int(i)) for i in pos[:a]) + tuple(
                    (layer, row, int(i)) for i in neg[:b]
                )
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
    def __init__(self, model: BNN, layers: frozenset, K: int, budget_end: float | None) -> None:
        self.model, self.layers, self.K, self.end = model, layers, K, budget_end
        self.kmat = output_thresholds(model.output)

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
            prod = block.weight[j].astype(np.int64) * v
            pos = np.flatnonzero(prod > 0) if flippable else np.zeros(0, np.int64)
            neg = np.flatnonzero(prod < 0) if flippable else np.zeros(0, np.int64)
            d = int(prod.sum())
            ts = np.arange(-K, K + 1)
            fires = neuron_fires(block, j, d - 2 * ts)
            orig = bool(neuron_fires(block, j, np.array([d]))[0])
            table = dict(zip(ts.tolist(), (fires != orig).tolist(), strict=True))
            polys = _row_polys(K, pos, neg, lambda t, tb=table: tb[t], index, j)
            same = polys.get(False, _Poly([0] * (K + 1), [None] * (K + 1)))
            chg = polys.get(True)
            if chg is not None and chg.mindeg() is not None:
                changers.append((j, same, chg))
            else:
                rest = rest * same
        out = [_Poly([0] * (K + 1), [None] * (K + 1)) for _ in range(m.num_classes)]

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
        w = m.output.weight.astype(np.int64)
        dots = w @ v.astype(np.int64)
        C = m.num_classes
        flippable = len(m.blocks) in self.layers
        rows = []
        for c in range(C):
            prod = w[c] * v
            pos = np.flatnonzero(prod > 0) if flippable else np.zeros(0, np.int64)
            neg = np.flatnonzero(prod < 0) if flippable else np.zeros(0, np.int64)
            rows.append(_row_polys(K, pos, neg, lambda t: -2 * t, len(m.blocks), c))
        out = [_Poly([0] * (K + 1), [None] * (K + 1)) for _ in range(C)]

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
    timeout: float | None = None,
) -> FaultCounts:
    """Return exact per-class counts of the flip sets of exactly k weights, k = 0..max_flips
    (module docstring), each with a witness."""
    v, lay = _check(model, x, layers)
    bits = weight_bits(model, lay)
    K = _check_k(max_flips, bits, "flips")
    end = None if timeout is None else time.perf_counter() + timeout
    polys = _Counter(model, lay, K, end).layer(0, v, K)
    label = int(classify(model, v))
    res = FaultCounts(label, [p.c for p in polys], [p.w for p in polys], bits)
    for k in range(K + 1):  # every flip set of size k lands in exactly one class
        if sum(p.c[k] for p in polys) != math.comb(bits, k):  # pragma: no cover - invariant
            raise AssertionError("fault counts do not add up to C(N, k)")
    return res


def apply_flips(model: BNN, flips: Sequence[Flip]) -> BNN:
    """Return ``model`` with the weights at ``flips`` negated."""
    from dataclasses import replace

    blocks = [replace(b, weight=b.weight.copy()) for b in model.blocks]
    out = replace(model.output, weight=model.output.weight.copy())
    for layer, row, col in flips:
        w = out.weight if layer == len(blocks) else blocks[layer].weight
        w[row, col] = -w[row, col]
    return replace(model, blocks=tuple(blocks), output=out)


def min_flips(
    model: BNN,
    x: Any,
    max_flips: int,
    *,
    target: int | None = None,
    layers: Sequence[int] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Return the smallest number of weight flips (≤ ``max_flips``) that changes the decision
    (to ``target`` when given), with a witness re-checked by inference on the faulted
    weights; ``min_flips`` None when no such set exists."""
    t0 = time.perf_counter()
    C = model.num_classes
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < C
    ):
        raise RegionError(f"faults: target class must be in 0..{C - 1}, got {target!r}")
    res = fault_counts(model, x, max_flips, layers=layers, timeout=timeout)
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


class _Rater:
    def __init__(self, model: BNN, layers: frozenset, p: float, cut: float, end, label) -> None:
        self.model, self.layers, self.p, self.cut, self.end = model, layers, p, cut, end
        self.label = label  # the fault-free decision on the input
        self.kmat = output_thresholds(model.output)

    def _qs(self, index: int, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (h, q): the block's fault-free outputs and each neuron's change probability."""
        block = self.model.blocks[index]
        h = block_forward(block, v[None, :])[0]
        flippable = index in self.layers
        qs = np.zeros(block.out_size)
        for j in range(block.out_size):
            prod = block.weight[j].astype(np.int64) * v
            npos, nneg = (int((prod > 0).sum()), int((prod < 0).sum())) if flippable else (0, 0)
            pmf, off = _diff_pmf(npos, nneg, self.p)
            d = int(prod.sum())
            ts = np.arange(len(pmf)) - off
            fires = neuron_fires(block, j, d - 2 * ts)
            orig = bool(neuron_fires(block, j, np.array([d]))[0])
            qs[j] = float(pmf[fires != orig].sum())
        return h, np.clip(qs, 0.0, 1.0)

    def changed(self, index: int, v: np.ndarray) -> tuple[float, float]:
        """Return [lo, hi] of P(decision differs from the fault-free one | layer input v)."""
        if self.end is not None and time.perf_counter() > self.end:
            raise LimitReached("timeout: time limit exceeded")
        m = self.model
        if index == len(m.blocks):
            q = 1.0 - self.kept(v.astype(np.int64) @ m.output.weight.T.astype(np.int64))
            return q, q
        h, qs = self._qs(index, v)
        if index == len(m.blocks) - 1:
            return self._last(h, qs)
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

    def _last(self, h: np.ndarray, qs: np.ndarray) -> tuple[float, float]:
        """The last hidden layer: the decision depends on its changed set S only through the
        output dots W·h′ (and the output rows' faults, whose split into weights agreeing or
        not with h′ is a function of those dots), so sets with equal dots merge: a dynamic
        programme over the neurons with states = output dots, states below the cut dropped
        (their mass goes to the upper bound only)."""
        w = self.model.output.weight.astype(np.int64)
        states = {tuple((w @ h.astype(np.int64)).tolist()): 1.0}
        dropped = 0.0
        for j in np.argsort(-qs):
            q = float(qs[j])
            if q <= 0:
                continue
            step = -2 * w[:, j] * int(h[j])
            new: dict[tuple, float] = {}
            for n_done, (key, pr) in enumerate(states.items()):
                if n_done % 4096 == 4095 and self.end is not None:
                    if time.perf_counter() > self.end:
                        raise LimitReached("timeout: time limit exceeded")
                for k2, p2 in ((key, pr * (1 - q)), (tuple(np.add(key, step).tolist()), pr * q)):
                    if p2 < self.cut:
                        dropped += p2
                    else:
                        new[k2] = new.get(k2, 0.0) + p2
            states = new
            if self.end is not None and time.perf_counter() > self.end:
                raise LimitReached("timeout: time limit exceeded")
        lo = 0.0
        for i, (key, pr) in enumerate(states.items()):
            lo += pr * (1.0 - self.kept(np.array(key)))
            if i % 64 == 63 and self.end is not None and time.perf_counter() > self.end:
                raise LimitReached("timeout: time limit exceeded")
        return lo, min(1.0, lo + dropped)

    def kept(self, dots: np.ndarray) -> float:
        """Return P(the fault-free label still wins) given the output dots W·h′, every
        output weight flipping with probability p (rows independent given the label's)."""
        m = self.model
        n = m.output.weight.shape[1]
        C = m.num_classes
        label = self.label
        flippable = len(m.blocks) in self.layers
        cdfs = []
        for c in range(C):
            npos, nneg = ((n + int(dots[c])) // 2, (n - int(dots[c])) // 2) if flippable else (0, 0)
            pmf, off = _diff_pmf(npos, nneg, self.p)  # over t = a − b; the row's delta is −2t
            cdfs.append((pmf, off, np.cumsum(pmf[::-1])))  # P(t ≥ s) at index len − 1 − (s + off)
        pl, offl, _ = cdfs[label]
        total = 0.0
        for i in np.flatnonzero(pl):
            dl = -2 * (i - offl)
            prob = float(pl[i])
            for c in range(C):
                if c == label:
                    continue
                # label beats c iff (dots_l + dl) − (dots_c + dc) ≥ K[l, c] ⇔ dc ≤ bound,
                # and dc = −2t, so t ≥ ⌈−bound / 2⌉
                bound = int(dots[label]) + int(dl) - int(dots[c]) - int(self.kmat[label, c])
                pc, offc, tail = cdfs[c]
                s_min = -(bound // 2)  # ⌈−bound / 2⌉
                idx = s_min + offc  # index into pc of t = s_min
                if idx <= 0:
                    continue  # every t qualifies
                if idx >= len(pc):
                    prob = 0.0
                    break
                prob *= float(tail[len(pc) - 1 - idx])
            total += prob
        return min(1.0, total)


def _prob(qs: np.ndarray, S: Sequence[int]) -> float:
    inside = set(S)
    return float(np.prod([q if j in inside else 1 - q for j, q in enumerate(qs)]))


def fault_rate(
    model: BNN,
    x: Any,
    ber: Any,
    *,
    layers: Sequence[int] | None = None,
    width: float = 1e-6,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Return a rigorous interval [lo, hi] for the probability that the decision on ``x``
    changes when every stored weight bit flips independently with probability ``ber``."""
    v, lay = _check(model, x, layers)
    (p,) = _check_bers([ber])
    t0 = time.perf_counter()
    end = None if timeout is None else t0 + timeout
    label = int(classify(model, v))
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 1:
        raise RegionError(f"faults: width must be in (0, 1], got {width!r}")
    # the cut: states (changed sets) less likely than it are dropped, their mass added to the
    # upper bound only; it starts coarse (a first interval fast) and shrinks tenfold per pass
    # until the width is met (a pass costs about ten times the one before: the total is the
    # last pass's, within 10 %); a limit reports the last finished pass's interval
    cut, lo, hi, status, reason = 1e-4, 0.0, 1.0, "ok", None
    try:
        while True:
            lo, hi = _Rater(model, lay, p, cut, end, label).changed(0, v)
            if hi - lo <= width or cut < 1e-300:
                break
            cut /= 10
    except LimitReached as exc:
        status, reason = "unknown", str(exc)
    lo = max(0.0, lo * (1 - 1e-9) - 1e-15)
    hi = min(1.0, hi * (1 + 1e-9) + 1e-15)
    doc: dict[str, Any] = {
        "status": status,
        "label": label,
        "ber": p,
        "lo": lo,
        "hi": hi,
        "width": hi - lo,
        "method": "changed sets enumerated by probability; float64 widened outward",
        "reason": reason,
        "seconds": time.perf_counter() - t0,
    }
    return doc


# --- fault injection on the fast kernels ----------------------------------------------------


def _faulted(model: BNN, rng: np.random.Generator, p: float, layers: frozenset) -> BNN:
    """Return ``model`` with every weight of ``layers`` negated with probability ``p``."""
    from dataclasses import replace

    def flip(w: np.ndarray, on: bool) -> np.ndarray:
        if not on or p == 0:
            return w
        return np.where(rng.random(w.shape) < p, -w, w).astype(w.dtype)

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
    _, lay = _check(model, xs[0], layers)
    ps = _check_bers(bers)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise RegionError(f"faults: trials must be an integer >= 1, got {trials!r}")
    if len(ys) != len(xs):
        raise RegionError(f"faults: {len(xs)} inputs but {len(ys)} labels")
    used = check_path(path)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    end = None if timeout is None else t0 + timeout
    rows, status, reason, infer_s, n_inf = [], "ok", None, 0.0, 0
    for p in ps:
        correct = n = 0
        for _ in range(trials):
            if end is not None and time.perf_counter() > end:
                status, reason = "unknown", f"timeout: {timeout:g} s exceeded"
                break
            faulted = _faulted(model, rng, p, lay)
            t1 = time.perf_counter()
            pred = fast_predict(faulted, xs, used)
            infer_s += time.perf_counter() - t1
            n_inf += len(xs)
            correct += int((pred == ys).sum())
            n += len(xs)
            if progress:
                progress(1)
        lo, hi = wilson(correct, n, z)
        rows.append({"ber": p, "accuracy": correct / n if n else None, "lo": lo, "hi": hi, "n": n})
        if status != "ok":
            break
    return {
        "status": status,
        "reason": reason,
        "path": used,
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
    width: float = 1e-6,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Return a rigorous interval of the expected accuracy on ``x`` at BER ``ber``: an input
    classified correctly stays so with probability in [1 − hi, 1 − lo] (its
    :func:`fault_rate`), a misclassified one becomes correct with probability in [0, hi]."""
    xs = np.atleast_2d(np.asarray(x, dtype=np.int8))
    ys = np.asarray(labels).reshape(-1)
    t0 = time.perf_counter()
    lo = hi = 0.0
    status = "ok"
    for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
        # an equal share of what is left for each input still to do
        left = (
            None
            if timeout is None
            else max(1e-3, (timeout - (time.perf_counter() - t0)) / (len(xs) - i))
        )
        r = fault_rate(model, xi, ber, layers=layers, width=width, timeout=left)
        status = "unknown" if r["status"] != "ok" else status
        if r["label"] == int(yi):
            lo += 1 - r["hi"]
            hi += 1 - r["lo"]
        else:
            hi += r["hi"]
    n = max(len(xs), 1)
    return {
        "status": status,
        "ber": float(ber),
        "lo": lo / n,
        "hi": hi / n,
        "inputs": len(xs),
        "seconds": time.perf_counter() - t0,
    }
