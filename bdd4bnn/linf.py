"""L∞ balls around raw inputs, as the free-pixel regions they are for a binarized input layer.

With an input quantizer (input i is +1 iff raw_i ≥ t_i), the raw inputs within ε of ``raw``
(each value moved by at most ε, clipped to the raw range) binarize to exactly the inputs of a
fixed-index region: a pixel is free iff its clipped interval [lo_i, hi_i] straddles t_i
(lo_i < t_i ≤ hi_i), and every other pixel keeps its value. Each binary pattern x stands for
Π_i w_i(x_i) raw inputs, where w_i(−1) counts the raw values of [lo_i, hi_i] below t_i and
w_i(+1) those at or above it; a pixel that cannot cross its threshold contributes its whole
interval as a common factor. Raw counts are integers for uint8 inputs (the only kind whose
raw values are countable).

A multi-level network is analysed in its thermometer form
(:func:`bdd4bnn.thermometer.unfold`): bit (i, m) is +1 iff raw_i reaches the pixel's
m-th threshold, so the ball is the same construction over the bits, with one more condition: a
pixel whose interval straddles two thresholds would make two free bits of one chain (three
levels, not four patterns), and is refused; the weights of a pixel ride on one bit (its free
bit, else its first), the others weigh 1.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InputError, RegionError
from .model import BNN
from .region import Region
from .semantics import classify

__all__ = ["LinfBall", "linf_ball", "check_epsilon", "epsilon_from_unit", "share"]


@dataclass(frozen=True, eq=False)
class LinfBall:
    """An L∞ ball of raw inputs and its binary region (module docstring)."""

    raw: np.ndarray  # the raw input (float64 values of the quantizer's kind)
    epsilon: float
    region: Region  # the binary patterns: free pixels are those that can cross
    low: np.ndarray  # per pixel, raw values of the interval below its threshold (w(−1))
    high: np.ndarray  # per pixel, those at or above it (w(+1))
    threshold: np.ndarray  # the quantizer's per-pixel raw thresholds
    model: BNN | None = None  # the network the region is over (a thermometer form), if not given
    pixels: np.ndarray | None = None  # thermometer form: per pixel, the bit its raw value is at
    source: BNN | None = None  # thermometer form: the multi-level network itself
    parts: tuple[LinfBall, ...] = ()  # split balls: disjoint boxes (then use these, not region)

    @property
    def total_images(self) -> int:
        """Return the number of raw inputs in the ball."""
        if self.parts:
            return sum(p.total_images for p in self.parts)
        return math.prod(int(a) + int(b) for a, b in zip(self.low, self.high, strict=True))

    @property
    def image(self) -> np.ndarray:
        """Return the raw input at the ball's centre, one value per input of the network
        given (per pixel, also for a multi-level network's ball)."""
        return self.raw if self.parts or self.pixels is None else self.raw[self.pixels]

    @property
    def size(self) -> int:
        """Return the number of level patterns (binary patterns) in the ball."""
        return sum(p.region.size for p in self.parts) if self.parts else self.region.size

    def raw_witness(self, pattern: Any) -> np.ndarray:
        """Return a raw input of the ball that binarizes to ``pattern`` (a ±1 input of
        :attr:`region`): each pixel whose value differs from the raw input's own moves to the
        nearest raw value on the other side of its threshold (t, or t − 1), the others stay.
        (A part from :meth:`halves` holds some of the ball's free pixels on one side.)"""
        x = np.asarray(pattern).reshape(-1)
        out = self.raw.copy()
        fixed = np.ones(x.size, dtype=bool)
        fixed[list(self.region.free)] = False
        if x.size != fixed.size or (x[fixed] != self.region.center[fixed]).any():
            raise ValueError("pattern is not in the ball's region")
        t = np.ceil(self.threshold)
        moved = x != np.where(self.raw >= t, 1, -1)  # against the raw input's own pattern
        out[moved & (x > 0)] = t[moved & (x > 0)]
        out[moved & (x < 0)] = t[moved & (x < 0)] - 1
        return out if self.pixels is None else out[self.pixels]

    def center_class(self, model: BNN) -> int:
        """Return the class of the ball's raw input (``model``: the network the region is
        over, unless the ball carries it)."""
        if self.parts:
            assert self.source is not None and self.source.quantizer is not None
            return int(classify(self.source, self.source.quantizer.quantize(self.raw))[0])
        return int(classify(self.model or model, self.region.center))

    def halves(self) -> tuple[LinfBall, ...]:
        """Return the ball split on its region's first free pixel (:meth:`Region.halves`):
        the raw inputs below that pixel's threshold and those at or above it, each a ball
        whose weights for that pixel keep one side only; disjoint, together the ball."""
        if self.parts:
            raise RegionError("halve the boxes of a split ball (split does)")
        if not self.region.free:
            return (self,)
        i = self.region.free[0]
        out = []
        for part in self.region.halves():
            low, high = self.low.copy(), self.high.copy()
            (low if part.center[i] > 0 else high)[i] = 0
            out.append(replace(self, region=part, low=low, high=high))
        return tuple(out)

    def split(self, parts: int) -> list[LinfBall]:
        """Return at least ``parts`` (when the ball has that many patterns) disjoint balls
        whose union is this one (a split ball's boxes first): the one with the most patterns
        is halved (:meth:`halves`) until there are enough."""
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise RegionError(f"parts: expected an integer >= 1, got {parts!r}")
        out = list(self.parts or (self,))
        while len(out) < parts:
            big = max(range(len(out)), key=lambda i: out[i].size)
            if out[big].size == 1:
                break  # every part is a single pattern
            out[big : big + 1] = list(out[big].halves())
        return sorted(out, key=lambda b: -b.size)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "linf",
            "epsilon": self.epsilon,
            "free": sorted({i for p in self.parts or (self,) for i in p.region.free}),
            "size": self.size,
            "images": self.total_images,
            **({"boxes": len(self.parts)} if self.parts else {}),
        }


def check_epsilon(eps: Any, kind: str = "uint8") -> float:
    """Validate an L∞ radius in raw units (uint8: an integer 0..255)."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise RegionError(f"linf: expected a number, got {eps!r}")
    e = float(eps)
    if not math.isfinite(e) or e < 0:
        raise RegionError(f"linf: must be a finite number >= 0, got {eps!r}")
    if kind == "uint8" and (e != int(e) or e > 255):
        raise RegionError(f"linf: uint8 inputs move by whole levels 0..255, got {eps!r}")
    return e


def epsilon_from_unit(model: BNN, eps: Any) -> float:
    """Return the raw radius of an L∞ radius ``eps`` given on the unit scale, where raw values
    map linearly onto [0, 1] (uint8 0..255: raw/255): eps·(high − low), and on uint8 inputs
    the whole levels within it (⌊255·eps⌋, a level counted when eps reaches it up to 10⁻⁹ of
    a level, so that 2/255 written as a decimal means 2 levels)."""
    q = model.quantizer
    if q is None:
        linf_ball(model, np.zeros(model.input_size), 0)  # the one-line "no quantizer" error
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise RegionError(f"linf-float: expected a number, got {eps!r}")
    e = float(eps)
    if not (math.isfinite(e) and 0 <= e <= 1):
        raise RegionError(f"linf-float: must be a number in [0, 1], got {eps!r}")
    raw = e * (q.high - q.low)
    return float(math.floor(raw + 1e-9)) if q.raw == "uint8" else raw


def linf_ball(model: BNN, raw: Any, epsilon: Any, split: bool = False) -> LinfBall:
    """Return the L∞ ball of radius ``epsilon`` (raw units) around the raw input ``raw``; for
    a multi-level network, over its thermometer form (``ball.model``). Where a pixel can
    reach three or more levels, ``split`` gives the ball as disjoint boxes of at most two
    levels per pixel (``ball.parts``; at most :data:`MAX_BOXES`), else it is an error."""
    if not model.is_binary:
        return _thermometer_ball(model, raw, epsilon, split)
    q = model.quantizer
    if q is None:
        raise RegionError(
            f"model {model.name} has no input quantizer: L∞ regions need one (a version-2 "
            "model with an 'input' section, an ONNX import, or a 28x28 model from train)"
        )
    if q.raw != "uint8":
        raise RegionError("L∞ counts need integer raw inputs (raw: uint8)")
    eps = check_epsilon(epsilon, q.raw)
    x = np.asarray(raw, dtype=np.float64).reshape(-1)
    if x.size != model.input_size:
        raise InputError(f"raw input of {x.size} values: the model reads {model.input_size}")
    if (x != np.round(x)).any() or (x < q.low).any() or (x > q.high).any():
        raise InputError(f"raw input values must be integers in {q.low:g}..{q.high:g}")
    return _box(model, x, np.maximum(x - eps, q.low), np.minimum(x + eps, q.high), eps)


def _box(model: BNN, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, eps: float) -> LinfBall:
    """Return the raw integers in [lo, hi] per pixel (``x`` among them) as a free-pixel
    region of a binary-input model."""
    assert model.quantizer is not None
    t = model.quantizer.threshold
    below = np.clip(np.minimum(hi + 1, t) - lo, 0, None).astype(np.int64)  # values in [lo, t)
    above = np.clip(hi + 1 - np.maximum(lo, t), 0, None).astype(np.int64)  # values in [t, hi]
    center = model.quantizer.quantize(x)[0]
    free = [int(i) for i in np.flatnonzero((below > 0) & (above > 0))]
    return LinfBall(x, eps, Region.fixed(center, free, len(free)), below, above, t)


def share(part: int, whole: int) -> tuple[str, float]:
    """Return a share as an exact "p/q" string and a float."""
    f = Fraction(part, whole)
    return f"{f.numerator}/{f.denominator}", float(f)


def _thermometer_ball(model: BNN, raw: Any, epsilon: Any, split: bool) -> LinfBall:
    from .thermometer import unfold

    form = unfold(model)
    x = np.asarray(raw, dtype=np.float64).reshape(-1)
    if x.size != model.input_size:
        raise InputError(f"raw input of {x.size} values: the model reads {model.input_size}")
    if model.quantizer is None:
        linf_ball(form.model, x, epsilon)  # the one-line "no quantizer" error
    assert form.model.quantizer is not None
    whole = linf_ball(form.model, np.repeat(x, form.bits), epsilon)  # validates x and ε
    q = model.quantizer
    lo = np.maximum(x - whole.epsilon, q.low)
    hi = np.minimum(x + whole.epsilon, q.high)
    k_lo = (lo[:, None] >= q.steps).sum(axis=1)
    k_hi = (hi[:, None] >= q.steps).sum(axis=1)
    wide = np.flatnonzero(k_hi - k_lo >= 2)
    if not wide.size:  # the bits of the whole ball, as validated above
        return _bits_ball(form, model, whole)
    if not split:
        i = int(wide[0])
        raise RegionError(
            f"pixel {i} reaches {k_hi[i] - k_lo[i] + 1} levels within ε = {whole.epsilon:g}: "
            "only count and verify split such balls into boxes of two levels per pixel"
        )
    # each wide pixel's levels in pairs: the ball is the disjoint union of the product boxes
    edges = np.ceil(q.steps)  # level k holds the raw integers [edges[k-1], edges[k] - 1]
    groups = []
    for i in wide:
        ks = list(range(int(k_lo[i]), int(k_hi[i]) + 1))
        spans = []
        for a in range(0, len(ks), 2):
            first, last = ks[a], ks[min(a + 1, len(ks) - 1)]
            low = lo[i] if first == k_lo[i] else edges[i, first - 1]
            high = hi[i] if last == k_hi[i] else edges[i, last] - 1
            if low <= high:  # a level without raw values (equal thresholds) adds nothing
                spans.append((float(low), float(high)))
        groups.append(spans)
    total = math.prod(len(g) for g in groups)
    if total > MAX_BOXES:
        raise RegionError(
            f"{wide.size} pixels reach three or more levels within ε = {whole.epsilon:g}: "
            f"{total} boxes of two levels per pixel (at most {MAX_BOXES})"
        )
    parts = []
    for combo in itertools.product(*groups):
        lo2, hi2 = lo.copy(), hi.copy()
        for i, (a, b) in zip(wide, combo, strict=True):
            lo2[i], hi2[i] = a, b
        bits = form.bits
        box = _box(
            form.model,
            np.repeat(np.clip(x, lo2, hi2), bits),
            np.repeat(lo2, bits),
            np.repeat(hi2, bits),
            whole.epsilon,
        )
        parts.append(_bits_ball(form, model, box))
    first = parts[0]
    return replace(first, raw=x, parts=tuple(parts))


MAX_BOXES = 4096  # split L∞ balls of multi-level inputs: at most this many boxes


def _bits_ball(form: Any, model: BNN, ball: LinfBall) -> LinfBall:
    """Return a box of at most two levels per pixel (``ball``, over the thermometer bits) with
    the weights of a pixel on one bit (its free bit, else its first), the others weighing 1."""
    bits = form.bits
    free = np.zeros(form.model.input_size, dtype=bool)
    free[list(ball.region.free)] = True
    per_pixel = free.reshape(-1, bits)
    at = np.arange(model.input_size) * bits + np.where(
        per_pixel.any(axis=1), per_pixel.argmax(axis=1), 0
    )
    carries = np.zeros(free.size, dtype=bool)
    carries[at] = True
    center = ball.region.center
    low = np.where(carries, ball.low, (center < 0).astype(np.int64))
    high = np.where(carries, ball.high, (center > 0).astype(np.int64))
    return LinfBall(
        ball.raw, ball.epsilon, ball.region, low, high, ball.threshold, form.model, at, model
    )
