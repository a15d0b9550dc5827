"""Weighted counts by enumeration: Σ over the inputs of a free-pixel region, per class, of
Π_i w_i(x_i) (an L∞ ball's raw images, :mod:`bdd4bnn.linf`).

Every pattern of the free pixels is classified by batched inference (chunks of prefixes ×
all suffixes; first-block dots from the flipped free pixels only, as the streaming
enumeration does). The weights are exact: each product is taken modulo several primes below
2³¹ (the per-prefix and per-suffix products meet in one multiplication), per-class sums
are exact float64 sums of values below 2³¹ per chunk, and the Chinese remainder theorem
rebuilds the integer, with enough primes that their product exceeds the largest possible
sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...limits import Budget
from ...model import BNN
from ...region import Region
from .stream import _Walker

__all__ = ["weighted_counts", "FREE_MAX"]

FREE_MAX = 24  # 1.7·10⁷ patterns: about a minute on TFC (the BDDs take far longer)
PRIMES = (2147483647, 2147483629, 2147483587, 2147483579, 2147483563, 2147483549, 2147483543)
PRIMES += (2147483497, 2147483489, 2147483477, 2147483423, 2147483399, 2147483353)
CHUNK = 1 << 16  # patterns per batch (float64 sums of < 2³¹ values stay exact)


def _products(bits: np.ndarray, low: np.ndarray, high: np.ndarray, p: int) -> np.ndarray:
    """Π_i (high_i if bit else low_i) mod p for each row of ``bits``."""
    out = np.ones(bits.shape[0], dtype=np.int64)
    for j in range(bits.shape[1]):
        out = out * np.where(bits[:, j], high[j] % p, low[j] % p) % p
    return out


def weighted_counts(
    model: BNN,
    region: Region,
    low: Sequence[int],
    high: Sequence[int],
    budget: Budget | None = None,
) -> list[int]:
    """Return, per class, Σ over the region's inputs of Π over its free pixels of ``high[i]``
    (pixel at +1) or ``low[i]`` (at −1). The region must leave its free pixels unbounded
    (radius = number of free pixels) and have at most :data:`FREE_MAX` of them."""
    free = list(region.free)
    k = len(free)
    if region.radius < k or k > FREE_MAX:
        raise ValueError("weighted enumeration needs at most FREE_MAX unbounded free pixels")
    lo = np.array([int(low[i]) for i in free], dtype=object)
    hi = np.array([int(high[i]) for i in free], dtype=object)
    bound = math.prod(int(a) + int(b) for a, b in zip(lo, hi, strict=True))
    primes, prod = [], 1
    for p in PRIMES:
        if prod > bound:
            break
        primes.append(p)
        prod *= p
    if prod <= bound:  # pragma: no cover - 13 primes cover 2^400 > 256^FREE_MAX
        raise ValueError("weights too large")
    na = k // 2
    nb = k - na
    a_bits = ((np.arange(1 << na)[:, None] >> np.arange(na)) & 1).astype(bool)
    b_bits = ((np.arange(1 << nb)[:, None] >> np.arange(nb)) & 1).astype(bool)
    wa = [_products(a_bits, lo[:na], hi[:na], p) for p in primes]
    wb = [_products(b_bits, lo[na:], hi[na:], p) for p in primes]
    c = model.num_classes
    sums = [[0] * c for _ in primes]
    walker = _Walker(model, region)  # first-block dots from the flipped free pixels
    delta = walker.delta.astype(np.float32)
    at_plus = region.center[np.array(free, dtype=np.int64)] > 0
    per = max(1, CHUNK >> nb)  # prefixes per batch
    for start in range(0, 1 << na, per):
        rows = np.arange(start, min(start + per, 1 << na))
        bits = np.concatenate(
            [np.repeat(a_bits[rows], 1 << nb, axis=0), np.tile(b_bits, (len(rows), 1))],
            axis=1,
        )
        flipped = (bits != at_plus).astype(np.float32)  # exact: small integer dots
        cls = walker.classes_from_dots(walker.base + (flipped @ delta).astype(np.int32))
        for t, p in enumerate(primes):
            w = np.repeat(wa[t][rows], 1 << nb) * np.tile(wb[t], len(rows)) % p
            part = np.bincount(cls, weights=w.astype(np.float64), minlength=c)
            for j in range(c):
                sums[t][j] = (sums[t][j] + int(part[j])) % p
        if budget is not None:
            budget.check()
    return [_crt([sums[t][j] for t in range(len(primes))], primes) for j in range(c)]


def _crt(residues: list[int], primes: list[int]) -> int:
    """Return the integer in [0, Π primes) with these residues."""
    total, prod = 0, math.prod(primes)
    for r, p in zip(residues, primes, strict=True):
        q = prod // p
        total += r * q * pow(q, -1, p)
    return total % prod
