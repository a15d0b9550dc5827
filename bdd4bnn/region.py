"""Input regions: a centre input and the ways it may change.

A :class:`Region` is the set of inputs that differ from ``center`` only on the ``free`` pixels
and in at most ``radius`` of them. The Hamming ball B(u, r) has every pixel free; a
fixed-index region lets only the pixels in S change (optionally at most r of them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import RegionError

__all__ = ["Region", "count_range"]


def count_range(now: int, down: int, up: int, flips: int) -> tuple[int, int]:
    """Return the range of a count of true literals under at most ``flips`` more flips.

    Lemma (the one interval bound every engine uses): ``now`` literals are true, and among
    the pixels that may still flip, ``down`` carry a true literal and ``up`` a false one (each
    pixel carries one literal of this count). Flipping f ≤ ``flips`` of them changes the count
    by at least −min(flips, down) and at most +min(flips, up), and both ends are reached. Plain
    Python on ints, so numba compiles the same function for the loops
    (:func:`bdd4bnn.jit.compiled`).
    """
    return now - min(flips, down), now + min(flips, up)


@dataclass(frozen=True, eq=False)
class Region:
    """Inputs equal to ``center`` outside ``free``, with at most ``radius`` flips inside."""

    center: np.ndarray  # int8, ±1
    free: tuple[int, ...]  # sorted 0-based indices that may change
    radius: int  # 0 <= radius <= len(free)
    kind: str  # "hamming" or "fixed"

    @classmethod
    def hamming(cls, center: Sequence[int] | np.ndarray, radius: int) -> Region:
        """Return the Hamming ball of ``radius`` around ``center``."""
        u = _center(center)
        _check_radius(radius, len(u), "the input size")
        return cls(u, tuple(range(len(u))), int(radius), "hamming")

    @classmethod
    def fixed(
        cls, center: Sequence[int] | np.ndarray, free: Sequence[int], radius: int | None = None
    ) -> Region:
        """Return the region where only pixels in ``free`` may change (at most ``radius``)."""
        u = _center(center)
        s = sorted(int(i) for i in free)
        if len(set(s)) != len(s):
            raise RegionError("free set: an index is listed twice")
        if s and not (0 <= s[0] and s[-1] < len(u)):
            raise RegionError(f"free set: indices must lie in 0..{len(u) - 1}")
        r = len(s) if radius is None else radius
        _check_radius(r, len(s), "the free-set size")
        return cls(u, tuple(s), int(r), "fixed")

    @classmethod
    def everything(cls, center: Sequence[int] | np.ndarray) -> Region:
        """Return every input (the Hamming ball of radius n around ``center``).

        >>> Region.everything([1, -1, 1]).size
        8
        """
        u = _center(center)
        return cls.hamming(u, len(u))

    @classmethod
    def from_dict(cls, center: Sequence[int] | np.ndarray, doc: Any) -> Region:
        """Return the region a :meth:`describe` dict gives around ``center``.

        >>> r = Region.fixed([1, 1, -1, 1], [0, 2], 1)
        >>> Region.from_dict(r.center, r.describe()).describe() == r.describe()
        True
        """
        if not isinstance(doc, dict) or doc.get("kind") not in ("hamming", "fixed"):
            raise RegionError("region: expected {'kind': 'hamming' | 'fixed', ...}")
        if doc["kind"] == "hamming":
            return cls.hamming(center, doc.get("radius"))
        free = doc.get("free")
        if not isinstance(free, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in free
        ):
            raise RegionError("region: 'free' must be a list of integers")
        return cls.fixed(center, free, doc.get("radius"))

    def with_radius(self, radius: int) -> Region:
        """Return the same region with another radius (0 ≤ radius ≤ number of free pixels)."""
        _check_radius(radius, len(self.free), "the free pixels")
        return Region(self.center, self.free, int(radius), self.kind)

    def halves(self) -> tuple[Region, ...]:
        """Return the region split on its first free pixel: the inputs that keep it, and
        those that flip it (when a flip is left); disjoint, together the region."""
        if not self.free:
            return (self,)
        first, rest = self.free[0], self.free[1:]
        keep = Region(self.center, rest, min(self.radius, len(rest)), "fixed")
        if self.radius == 0:
            return (keep,)
        moved = self.center.copy()
        moved[first] = -moved[first]
        return keep, Region(moved, rest, min(self.radius - 1, len(rest)), "fixed")

    def split(self, parts: int) -> list[Region]:
        """Return at least ``parts`` (when the region has that many inputs) disjoint regions
        whose union is this one: the largest part is halved (:meth:`halves`) until there are
        enough, so the parts are balanced by size.

        >>> r = Region.hamming([1, -1, 1, 1], 2)
        >>> [p.size for p in r.split(3)], sum(p.size for p in r.split(3)) == r.size
        ([4, 4, 3], True)
        """
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise RegionError(f"parts: expected an integer >= 1, got {parts!r}")
        out = [self]
        while len(out) < parts:
            big = max(range(len(out)), key=lambda i: out[i].size)
            halves = out[big].halves()
            if len(halves) == 1 and out[big].size == 1:
                break  # every part is a single input
            out[big : big + 1] = list(halves)
        return sorted(out, key=lambda r: -r.size)

    def within(self, envelope: Region) -> bool:
        """Return whether every input of this region lies in ``envelope`` (same centre, free
        pixels a subset, radius at most the envelope's)."""
        return (
            self.n == envelope.n
            and bool((self.center == envelope.center).all())
            and set(self.free) <= set(envelope.free)
            and self.radius <= envelope.radius
        )

    @property
    def n(self) -> int:
        return int(self.center.shape[0])

    @property
    def size(self) -> int:
        """Return the exact number of inputs in the region."""
        m = len(self.free)
        return sum(math.comb(m, k) for k in range(self.radius + 1))

    def sphere_size(self, k: int) -> int:
        """Return the number of inputs at distance exactly ``k`` from the centre."""
        return math.comb(len(self.free), k) if 0 <= k <= self.radius else 0

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Return whether each row of ``x`` lies in the region."""
        x = np.atleast_2d(x)
        diff = x != self.center
        mask = np.ones(self.n, dtype=bool)
        mask[list(self.free)] = False
        return (~diff[:, mask]).all(axis=1) & (diff.sum(axis=1) <= self.radius)

    def literal_range(self, idx: Sequence[int], pos: Sequence[bool]) -> tuple[int, int]:
        """Return (min, max) over the region of the number of true literals.

        Literal t is true iff ``x[idx[t]] == (+1 if pos[t] else -1)``; each index appears
        once (a neuron's Card), as :func:`count_range` assumes.
        """
        i = np.asarray(idx, dtype=np.int64)
        true_now = (self.center[i] > 0) == np.asarray(pos, dtype=bool)
        free = np.zeros(self.n, dtype=bool)
        free[list(self.free)] = True
        at = free[i]
        now = int(true_now.sum())
        low_room, high_room = int((true_now & at).sum()), int((~true_now & at).sum())
        return count_range(now, low_room, high_room, self.radius)

    def iter_points(
        self, chunk: int = 65536, distances: Sequence[int] | None = None
    ) -> Iterator[np.ndarray]:
        """Yield the region's inputs in chunks (int8 arrays of shape (<= chunk, n)).

        ``distances`` restricts to inputs at those Hamming distances from the centre (rings).
        Never holds more than one chunk in memory.
        """
        ks = range(self.radius + 1) if distances is None else distances
        free = np.array(self.free, dtype=np.int64)
        for k in ks:
            if not 0 <= k <= self.radius:
                continue
            if k == 0:
                yield self.center[None, :].copy()
                continue
            combos = itertools.combinations(range(len(free)), k)
            while True:
                flat = np.fromiter(
                    itertools.chain.from_iterable(itertools.islice(combos, chunk)),
                    dtype=np.int64,
                )
                if flat.size == 0:
                    break
                idx = free[flat.reshape(-1, k)]
                x = np.repeat(self.center[None, :], idx.shape[0], axis=0)
                rows = np.arange(idx.shape[0])[:, None]
                x[rows, idx] *= -1
                yield x

    def sample(self, count: int, seed: int | None = 0, chunk: int = 4096) -> np.ndarray:
        """Return ``count`` inputs drawn uniformly from the region (with replacement).

        The distance k is drawn with probability C(|free|, k) / size (the ratios of exact
        integers, rounded once to binary64), then a uniform k-subset of the free pixels is
        flipped (the k smallest of |free| uniform keys).
        """
        rng = np.random.default_rng(seed)
        sizes = [self.sphere_size(k) for k in range(self.radius + 1)]
        total = sum(sizes)
        p = np.array([float(Fraction(s, total)) for s in sizes])
        out = np.repeat(self.center[None, :], count, axis=0)
        free = np.array(self.free, dtype=np.int64)
        for start in range(0, count, chunk):
            rows = out[start : start + chunk]
            ks = rng.choice(len(p), size=len(rows), p=p / p.sum())
            if free.size == 0:
                continue
            order = np.argsort(rng.random((len(rows), free.size)), axis=1)
            flip = np.arange(free.size)[None, :] < ks[:, None]
            r, c = np.nonzero(flip)
            rows[r, free[order[r, c]]] *= -1
        return out

    def describe(self) -> dict[str, Any]:
        """Return a JSON-ready description (``kind``, ``radius``, ``size``, ``free``)."""
        d: dict[str, Any] = {"kind": self.kind, "radius": self.radius, "size": self.size}
        if self.kind == "fixed":
            d["free"] = list(self.free)
        return d

    def summary(self) -> str:
        """Return a one-line description for people.

        >>> Region.hamming([1, -1, 1, 1], 2).summary()
        'Hamming ball, radius 2 (11 inputs)'
        """
        if self.kind == "hamming":
            return f"Hamming ball, radius {self.radius} ({self.size} inputs)"
        return f"{len(self.free)} free pixels, at most {self.radius} flips ({self.size} inputs)"


def _center(center: Sequence[int] | np.ndarray) -> np.ndarray:
    u = np.asarray(center)
    if u.ndim != 1 or u.size == 0 or not np.isin(u, (-1, 1)).all():
        raise RegionError("centre: expected a non-empty vector of -1/+1 values")
    return u.astype(np.int8)


def _check_radius(radius: Any, limit: int, what: str) -> None:
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)):
        raise RegionError(f"radius: expected an integer, got {radius!r}")
    if not 0 <= radius <= limit:
        raise RegionError(f"radius {radius} out of range 0..{limit} ({what})")
