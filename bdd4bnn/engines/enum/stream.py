"""Enumeration engine: stream a region through exact batched inference, incrementally.

The region is walked as flip sets (ring by ring, chunks of index arrays; never the inputs
themselves): the first block's dots are updated, not recomputed — for flips F,
``W·x = W·u + Σ_{i∈F} (−2·u_i·W[:, i])``, a |F|-term gather instead of an n-term dot — and the
block's integer thresholds come from its Cards (:mod:`bdd4bnn.encoders.thresholds`). Later
blocks and the output run on the int8 kernel (:mod:`bdd4bnn.kernels.int8_torch`), or on the
reference inference when torch is missing. Exact, memory-bounded, and tested against brute
force like every engine.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence

import numpy as np

from ...errors import LimitReached
from ...kernels.dense_tail import dense_tail
from ...limits import Budget
from ...model import BNN
from ...region import Region
from ...semantics import output_thresholds, predict_from_dots
from . import subtree

__all__ = ["enum_counts", "enum_find", "estimate_seconds", "count_seconds", "macs"]

# Fitted on this project's 2-core machine (benchmarks/RESULTS.md): seconds per input =
# PER_INPUT + PER_MAC * (multiply-accumulates of the blocks after the first, plus the output,
# plus radius × first-block width for the incremental first block).
PER_INPUT = 0.4e-6
PER_MAC = 1.5e-11
# The subtree walk (numba) costs its first use in this process (:func:`bdd4bnn.jit.
# first_use_seconds`: importing numba, loading or compiling the walk) plus at most
# per input and thread the larger of SUBTREE_PER_INPUT (measured 40–55 ns without pruning on
# ≤ 100-wide models, benchmarks/RESULTS.md) and SUBTREE_PER_MAC per multiply-accumulate of the
# blocks after the first and the output (an input's changed neurons add whole columns there:
# 55 µs per input on 784-2048-2048-2048-10, 8.4·10⁶ such MACs); it is used when that beats
# streaming, for regions from SUBTREE_MIN inputs.
SUBTREE_MIN = 10_000
SUBTREE_PER_INPUT = 8e-8
SUBTREE_PER_MAC = 7e-12
CELLS = 1 << 22  # gathered int16 cells per chunk (bounds memory: 8 MiB)
# Later blocks run on the int8 kernel only when torch is already imported (importing it takes
# longer than the kernel saves on any region streaming is chosen for) and the region has at
# least TORCH_FROM inputs.
TORCH_FROM = 1000


def macs(model: BNN) -> int:
    """Return the multiply-accumulates of one full inference."""
    sizes = model.layer_sizes
    return sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))


def estimate_seconds(model: BNN, inputs: int, radius: int = 0) -> float:
    """Return the estimated enumeration time for ``inputs`` inputs within ``radius`` flips."""
    first = model.blocks[0].out_size
    rest = macs(model) - model.input_size * first
    return inputs * (PER_INPUT + PER_MAC * (rest + max(radius, 1) * first))


class _Walker:
    """A model prepared to classify flip sets of one region."""

    def __init__(self, model: BNN, region: Region) -> None:
        from ...encoders.thresholds import signed_flips

        self.model, self.region = model, region
        free = np.array(region.free, dtype=np.int64)
        self.free = free
        # Each neuron's sign is folded into its dots once: neuron j fires iff signed dot ≥
        # bound, one comparison (constant neurons: dot 0 vs bound 0 / 1); delta[t] = change of
        # the signed dots when free pixel t flips.
        base, delta, bound = signed_flips(model.blocks[0], region.center, free)
        self.base = base.astype(np.int32)
        self.delta = delta.astype(np.int16)
        self.bound = bound.astype(np.int32)
        self.net = None
        self.out_k = output_thresholds(model.output)
        if region.size >= TORCH_FROM and "torch" in sys.modules:
            try:
                from ...kernels.predict import int8_net

                self.net = int8_net(model)
            except ImportError:  # pragma: no cover - without torch
                pass
        self.dense = None if self.net is not None else dense_tail(model)

    def classes_from_dots(self, dots: np.ndarray) -> np.ndarray:
        """Return the classes for signed first-block dots (B, m)."""
        if self.net is not None:
            return self.net.classes_from_signed_dots(dots, self.bound)
        assert self.dense is not None
        return predict_from_dots(self.dense.output_dots(dots >= self.bound), self.out_k)

    def inputs(self, idx: np.ndarray) -> np.ndarray:
        """Return the inputs (B, n) of flip sets ``idx``."""
        x = np.repeat(self.region.center[None, :], idx.shape[0], axis=0)
        if idx.shape[1]:
            x[np.arange(idx.shape[0])[:, None], self.free[idx]] *= -1
        return x


HALVES_MAX = 30  # free sets up to this size are enumerated by meet-in-the-middle tables


def _by_halves(region: Region) -> bool:
    """Return whether meet-in-the-middle tables enumerate ``region``: a free set of 2 to
    :data:`HALVES_MAX` pixels whose radius lets through at least a quarter of its 2^s flip
    sets (the tables visit all 2^s pairs; a thin ball is cheaper ring by ring)."""
    s = len(region.free)
    return region.kind == "fixed" and 2 <= s <= HALVES_MAX and 4 * region.size >= 1 << s


def _subset_table(delta: np.ndarray) -> np.ndarray:
    """Return T (2^h, m): T[mask] = Σ of delta rows in mask (bit t = row t)."""
    h, m = delta.shape
    table = np.zeros((1 << h, m), dtype=np.int32)
    for t in range(h):
        table[1 << t : 1 << (t + 1)] = table[: 1 << t] + delta[t]
    return table


def _popcounts(h: int) -> np.ndarray:
    return np.array([bin(v).count("1") for v in range(1 << h)], dtype=np.int64)


def _halves(walker: _Walker, distances: Sequence[int] | None):
    """Yield (classes, a_masks, b_masks) for every input of a small free set, by halves.

    Free positions split into A (first half) and B; the dots of mask pair (a, b) are
    base + TA[a] + TB[b]; pairs with more flips than the radius (or not in ``distances``)
    are dropped.
    """
    s = len(walker.free)
    ha = s // 2
    hb = s - ha
    ta, tb = _subset_table(walker.delta[:ha]), _subset_table(walker.delta[ha:])
    pa, pb = _popcounts(ha), _popcounts(hb)
    allowed = np.zeros(s + 1, dtype=bool)
    for k in range(walker.region.radius + 1) if distances is None else distances:
        if 0 <= k <= walker.region.radius:
            allowed[k] = True
    b_all = np.arange(1 << hb)
    step = max(1, CELLS // ((1 << hb) * max(1, ta.shape[1])))
    for a0 in range(0, 1 << ha, step):
        a = np.arange(a0, min(a0 + step, 1 << ha))
        keep = allowed[pa[a][:, None] + pb[None, :]]
        if keep.all():  # every pair: a broadcast sum, no gathers
            dots = ((walker.base + ta[a])[:, None, :] + tb[None, :, :]).reshape(-1, ta.shape[1])
            ai = np.repeat(np.arange(a.size), b_all.size)
            bi = np.tile(b_all, a.size)
            yield walker.classes_from_dots(dots), a[ai], bi, ha
            continue
        ai, bi = np.nonzero(keep)
        if ai.size == 0:
            continue
        dots = walker.base + ta[a[ai]] + tb[b_all[bi]]
        yield walker.classes_from_dots(dots), a[ai], b_all[bi], ha


def _ring_chunks(walker: _Walker, distances: Sequence[int] | None):
    """Yield (dots, flip sets) for every input, ring by ring, the last flip vectorised.

    (k−1)-prefixes come from itertools; each prefix's dots are gathered once and extended to
    all its children p ∪ {j}, j > max(p), with one row addition each.
    """
    region = walker.region
    s, m = len(walker.free), walker.base.size
    ks = range(region.radius + 1) if distances is None else distances
    limit = max(4096, CELLS // max(m, 1))
    for k in ks:
        if not 0 <= k <= region.radius:
            continue
        if k == 0:
            yield walker.base[None, :], np.zeros((1, 0), dtype=np.int64)
            continue
        if k == 1:
            idx = np.arange(s, dtype=np.int64)[:, None]
            yield walker.base + walker.delta[:, :].astype(np.int32), idx
            continue
        prefixes = itertools.combinations(range(s - 1), k - 1)
        per = max(1, limit // max(1, s))
        while True:
            flat = np.fromiter(
                itertools.chain.from_iterable(itertools.islice(prefixes, per)), dtype=np.int64
            )
            if flat.size == 0:
                break
            pre = flat.reshape(-1, k - 1)
            pdots = walker.base + walker.delta[pre].sum(axis=1, dtype=np.int32)
            lens = s - 1 - pre[:, -1]
            rep = np.repeat(np.arange(len(pre)), lens)
            starts = np.repeat(np.cumsum(lens) - lens, lens)
            last = np.arange(rep.size) - starts + pre[rep, -1] + 1
            dots = pdots[rep] + walker.delta[last]
            yield dots, (pre, rep, last)


def _flip_sets_of(sets) -> np.ndarray:
    if isinstance(sets, tuple):
        pre, rep, last = sets
        return np.concatenate([pre[rep], last[:, None]], axis=1)
    return sets


def subtree_seconds(model: BNN, region: Region) -> float | None:
    """Return the estimated time of the subtree walk on ``region`` in this process, first use
    included (an upper bound: pruning only helps), or None where it cannot run."""
    if region.size >= subtree.SIZE_MAX or not subtree.available():
        return None
    from ... import jit

    first = jit.first_use_seconds(subtree.LOOP_MODULE, ("walk",))
    later = macs(model) - model.input_size * model.blocks[0].out_size
    per_input = max(SUBTREE_PER_INPUT, SUBTREE_PER_MAC * later)
    return first + region.size * per_input / subtree.cpus()


def uses_subtree(model: BNN, region: Region) -> bool:
    """Return whether :func:`enum_counts` walks ``region`` with subtree counting: from
    :data:`SUBTREE_MIN` inputs, when its estimate (first use included) beats streaming."""
    if region.size < SUBTREE_MIN:
        return False
    walk = subtree_seconds(model, region)
    return walk is not None and walk < estimate_seconds(model, region.size, region.radius)


def count_seconds(model: BNN, region: Region) -> float:
    """Return the estimated time of :func:`enum_counts` on ``region`` (the path it takes)."""
    est = estimate_seconds(model, region.size, region.radius)
    if uses_subtree(model, region):
        walk = subtree_seconds(model, region)
        assert walk is not None
        return walk
    return est


def enum_counts(
    model: BNN,
    region: Region,
    *,
    budget: Budget | None = None,
    progress: Callable[[int], None] | None = None,
    distances: Sequence[int] | None = None,
    method: str = "auto",
) -> list[int]:
    """Return exact per-class counts over ``region`` (or over its rings ``distances``).

    ``method``: "stream" (batched inference of every input), "subtree" (depth-first walk
    counting whole subtrees, :mod:`bdd4bnn.engines.enum.subtree`) or "auto"
    (:func:`uses_subtree`).
    """
    if method not in ("auto", "stream", "subtree"):
        raise ValueError(f"unknown enumeration method {method!r}")
    if method == "subtree" or (method == "auto" and uses_subtree(model, region)):
        return subtree.subtree_counts(
            model, region, budget=budget, progress=progress, distances=distances
        )
    walker = _Walker(model, region)
    counts = np.zeros(model.num_classes, dtype=np.int64)
    try:
        if _by_halves(region):
            for cls, *_ in _halves(walker, distances):
                counts += np.bincount(cls, minlength=model.num_classes)
                if budget:
                    budget.check()
                if progress:
                    progress(len(cls))
            return [int(c) for c in counts]
        for dots, _ in _ring_chunks(walker, distances):
            counts += np.bincount(walker.classes_from_dots(dots), minlength=model.num_classes)
            if budget:
                budget.check()
            if progress:
                progress(len(dots))
    except LimitReached as exc:
        exc.partial = [int(c) for c in counts]  # the inputs classified so far
        raise
    return [int(c) for c in counts]


def enum_find(
    model: BNN,
    region: Region,
    classes: Sequence[int],
    *,
    budget: Budget | None = None,
    progress: Callable[[int], None] | None = None,
    distances: Sequence[int] | None = None,
) -> np.ndarray | None:
    """Return an input of ``region`` (or of its rings ``distances``) classified in ``classes``:
    by the subtree walk where it is estimated faster (any such input), else streamed (the
    first, nearest rings first)."""
    wanted = np.array(sorted(classes), dtype=np.int64)
    if wanted.size == 0:
        return None
    if uses_subtree(model, region):
        return subtree.subtree_find(
            model, region, classes, budget=budget, distances=distances, progress=progress
        )
    walker = _Walker(model, region)
    if _by_halves(region) and distances is None:
        for cls, a, b, ha in _halves(walker, None):
            hits = np.flatnonzero(np.isin(cls, wanted))
            if hits.size:
                j = hits[0]
                bits = [t for t in range(ha) if a[j] >> t & 1]
                bits += [ha + t for t in range(len(walker.free) - ha) if b[j] >> t & 1]
                return walker.inputs(np.array([bits], dtype=np.int64))[0]
            if budget:
                budget.check()
        return None
    for dots, sets in _ring_chunks(walker, distances):
        hits = np.flatnonzero(np.isin(walker.classes_from_dots(dots), wanted))
        if hits.size:
            return walker.inputs(_flip_sets_of(sets)[hits[:1]])[0]
        if budget:
            budget.check()
        if progress:
            progress(len(dots))
    return None
