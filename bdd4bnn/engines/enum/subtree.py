"""Exact counting by depth-first enumeration that counts whole subtrees when bounds fix the class.

The region's inputs are the flip sets of its free pixels, walked depth first in increasing
index order: a node (flips F, budget b = r − |F|, next position p) roots the subtree of all
F ∪ T, T ⊆ {p, …, s−1}, |T| ≤ b. Each node carries exact integer pre-activations, updated
incrementally from its parent (a flip adds one column to the first block's dots; a neuron
that changes sign adds ±2 columns to the next layer's dots).

Before expanding a node, sound integer bounds decide which neurons may still change inside
its subtree: a first-block neuron with dot d can move by at most 2·min(b, #suffix pixels that
push it down / up); a later neuron by at most Σ 2|w| over the unstable neurons feeding it;
the output's pairwise comparisons likewise. When the node's class c wins every comparison
for all values of the unstable last-layer neurons, every input of the subtree is class c and
the subtree is counted at once (Σ_i C(s − p, i)). Only unstable neurons are tracked below a
node (stable ones keep their value in the whole subtree), so deep nodes cost O(#unstable);
a node at most two flips from the radius (or with at most 128 descendants) classifies all its
descendants in one batch vectorised over them, against only the classes that may beat its own,
unless the batch would cost more than :data:`BATCH_WORK` cell updates (wide models): then the node
is expanded, so that no unit of work grows with the model's width.

The thresholds are the engines' shared ones (:mod:`bdd4bnn.encoders.thresholds`,
:func:`bdd4bnn.semantics.output_thresholds`). The loop is compiled with numba
(:mod:`bdd4bnn.engines.enum.subtree_loop`), walks the root's child subtrees on one thread per CPU,
and returns every :data:`SLICE` nodes so that limits and progress are honoured.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from ...errors import LimitReached
from ...jit import available
from ...limits import Budget, next_slice
from ...model import BNN
from ...region import Region
from ...semantics import output_thresholds
from .tables import Net, Reg, Walk

__all__ = ["available", "subtree_counts", "subtree_find", "SIZE_MAX"]

LOOP_MODULE = "bdd4bnn.engines.enum.subtree_loop"
SIZE_MAX = 1 << 62  # counts are int64 inside the compiled loop
BATCH_ROWS = 8192  # the most descendants of a node classified in one vectorised batch
SLICE = 1 << 16  # the most nodes per compiled call (a stop request is seen between calls)
SLICE_SECONDS = 0.05  # the time a call aims at (nodes cost more on large models)
# the most cell updates of one batch of descendants (rows × the unstable neurons' products,
# tens of ms): past it the node is expanded instead
BATCH_WORK = 1 << 25
# past this many unstable neurons in the layer below, a neuron's reach is bounded by 2 per
# unstable input (|w| <= 1) instead of summed over them (width² steps per node)
REACH_EXACT_MAX = 256


def cpus() -> int:
    """Return the CPUs this process may run on (the walk's default number of threads)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class _Tables:
    """The model and region as padded integer arrays for the compiled loop."""

    def __init__(self, model: BNN, region: Region, distances: Sequence[int] | None) -> None:
        from ...encoders.thresholds import block_thresholds, signed_flips

        free = np.array(region.free, dtype=np.int64)
        s, r = len(free), region.radius
        widths = [b.out_size for b in model.blocks]
        big = max(widths)
        nl = len(widths)
        # layer 0: signed dots of the first block; delta[t] = change when free pixel t flips
        base0, delta0, bound0 = signed_flips(model.blocks[0], region.center, free)
        self.base = np.zeros(big, dtype=np.int64)
        self.base[: widths[0]] = base0
        delta = np.zeros((s, big), dtype=np.int32)
        delta[:, : widths[0]] = delta0
        self.delta = delta
        # suffix counts: pixels t >= p that raise (inc) or lower (dec) each neuron's dot
        inc = np.zeros((s + 1, big), dtype=np.int32)
        dec = np.zeros((s + 1, big), dtype=np.int32)
        inc[:s] = np.cumsum((delta > 0)[::-1], axis=0)[::-1]
        dec[:s] = np.cumsum((delta < 0)[::-1], axis=0)[::-1]
        self.inc, self.dec = inc, dec
        # later layers: neuron k fires iff Σ_j w[l, k, j]·h_j >= bound[l, k] (h in ±1)
        # int8: |w| <= 1 in a BNN (ternary zeros included); the loop's bounds rely on it
        self.weights = np.zeros((nl, big, big), dtype=np.int8)
        self.bound = np.zeros((nl, big), dtype=np.int32)
        self.bound[0, : widths[0]] = bound0
        for layer, block in enumerate(model.blocks[1:], start=1):
            t = block_thresholds(block)
            folded = t.fold(block.weight)
            if np.abs(folded).max(initial=0) > 1:
                raise ValueError("the subtree walk needs weights in {-1, 0, 1}")
            self.weights[layer, : block.out_size, : block.in_size] = folded
            self.bound[layer, : block.out_size] = t.bound
        self.weights_t = np.ascontiguousarray(self.weights.transpose(0, 2, 1))
        self.widths = np.array(widths, dtype=np.int64)
        c = model.num_classes
        self.out_w = np.zeros((c, big), dtype=np.int32)
        self.out_w[:, : widths[-1]] = model.output.weight
        self.k = output_thresholds(model.output)
        allowed = np.zeros(r + 1, dtype=np.bool_)
        for d in range(r + 1) if distances is None else distances:
            if 0 <= d <= r:
                allowed[d] = True
        self.allowed = allowed
        binom = np.zeros((s + 1, r + 1), dtype=np.int64)
        for n in range(s + 1):
            for i in range(min(n, r) + 1):
                binom[n, i] = math.comb(n, i)
        self.binom = binom
        self.s, self.r = s, r


def _state(tab: _Tables, c: int, batch_rows: int) -> Walk:
    """Return fresh walk state; slot 0 holds the centre, every neuron active."""
    nl, big, r = len(tab.widths), tab.base.size, tab.r
    slots = r + 2
    dots = np.zeros((slots, nl, big), dtype=np.int32)  # |dot| <= width: int32 lanes
    h = np.zeros((slots, nl, big), dtype=np.int8)
    dout = np.zeros((slots, c), dtype=np.int64)
    act = np.zeros((slots, nl, big), dtype=np.int64)
    nact = np.zeros((slots, nl), dtype=np.int64)
    x = tab.base.copy()
    dots[0, 0] = x
    hv = (x >= tab.bound[0]).astype(np.int64)
    h[0, 0] = hv
    for layer in range(1, nl):
        d = tab.weights[layer].astype(np.int64) @ (2 * hv - 1)
        dots[0, layer] = d
        hv = (d >= tab.bound[layer]).astype(np.int64)
        h[0, layer] = hv
    dout[0] = tab.out_w.astype(np.int64) @ (2 * hv - 1)
    for layer in range(nl):
        w = int(tab.widths[layer])
        act[0, layer, :w] = np.arange(w)
        nact[0, layer] = w
    nxt = np.zeros(slots, dtype=np.int64)
    expanded = np.zeros(slots, dtype=np.int64)
    counts = np.zeros(c, dtype=np.int64)
    state = np.zeros(4, dtype=np.int64)
    scratch = np.zeros((2, nl, big), dtype=np.int64)  # a node's changed neurons, their count
    # the largest batch of descendants (at most 64 MiB of crossing rows)
    rows = max(1, min(batch_rows, (1 << 24) // (nl * (big + 1))))
    cross = np.zeros((nl, big + 1, rows), dtype=np.int32)
    score = np.zeros((c + 3, rows), dtype=np.int32)  # the last row: a batch's dots
    threats = np.zeros(c, dtype=np.int64)
    table = np.zeros((3, rows), dtype=np.int64)  # parent row, last position, size
    reach = np.zeros((2, big), dtype=np.int64)
    return Walk(
        dots,
        h,
        dout,
        act,
        nact,
        nxt,
        expanded,
        counts,
        state,
        scratch,
        cross,
        score,
        threats,
        table,
        reach,
    )


def _resume_at_root(st: Walk, root: Walk, t0: int) -> None:
    """Set ``st`` to the expanded root (copied from the probe's ``root``: on wide models a
    node's bounds cost width² steps, once rather than per task), next child ``t0``."""
    for mine, probe in ((st.dots, root.dots), (st.h, root.h), (st.act, root.act)):
        mine[:2] = probe[:2]
    st.dout[:2], st.nact[:2] = root.dout[:2], root.nact[:2]
    st.state[:] = (1, 1, 1, 0)  # at slot 1, started, root expanded, root counted by the probe
    st.nxt[1], st.expanded[1] = t0, 1


def subtree_counts(
    model: BNN,
    region: Region,
    *,
    budget: Budget | None = None,
    progress: Callable[[int], None] | None = None,
    distances: Sequence[int] | None = None,
    threads: int | None = None,
    stats: dict | None = None,
    batch_rows: int = BATCH_ROWS,
    batch_work: int = BATCH_WORK,
    reach_exact_max: int = REACH_EXACT_MAX,
    per_task: dict[int, np.ndarray] | None = None,
    stop_at: Sequence[int] = (),
) -> list[int]:
    """Return exact per-class counts over ``region`` (or its rings ``distances``).

    The root is walked first (it may settle the whole region); then the subtrees of its
    children, largest first, are shared among ``threads`` workers (default: the CPUs).
    ``stats``, when given, receives "nodes": the nodes walked (descendants classified in a
    batch by an ancestor not included). ``batch_rows`` caps a batch (tests lower it to walk
    small regions node by node); so does ``batch_work``, the most cell updates of a batch;
    ``reach_exact_max``: see :data:`REACH_EXACT_MAX`. ``per_task``, when given, receives the
    counts of each finished subtree of a root child (by its position); ``stop_at``: classes
    whose first input, once a finished subtree holds one, stops the walk (the counts are then
    lower bounds; :func:`subtree_find` descends into that subtree).
    """
    if region.size >= SIZE_MAX:
        raise ValueError("region too large for int64 subtree counts")
    from ...jit import compiled_call
    from .subtree_loop import walk

    tab = _Tables(model, region, distances)
    c = model.num_classes
    net = Net(
        tab.delta,
        tab.inc,
        tab.dec,
        tab.weights,
        tab.bound,
        tab.out_w,
        tab.k,
        np.ascontiguousarray(tab.delta.T),
        tab.weights_t,
    )
    tuning = np.array([batch_work, reach_exact_max], dtype=np.int64)
    reg = Reg(tab.allowed, tab.binom, tuning)
    root = _state(tab, c, batch_rows)
    root.state[3] = 1  # the probe counts the root itself
    try:
        if budget:
            budget.check()
        nodes = [compiled_call(budget, walk, net, reg, root, tab.r, tab.s, 0, 0, 1)]
    except LimitReached as exc:  # nothing settled yet: zero is the lower bound
        exc.partial = [0] * c
        raise
    totals = root.counts
    if progress:
        progress(int(totals.sum()))
    if root.state[2] == 0:  # settled at the root
        if stats is not None:
            stats["nodes"] = 1
        return [int(v) for v in totals]
    tasks = iter(range(tab.s))  # the root's children: subtree sizes fall with the index
    wanted = np.array(sorted(stop_at), dtype=np.int64)
    lock = threading.Lock()
    stop = threading.Event()
    found: list[np.ndarray] = []  # each worker's counts

    def worker() -> None:
        st = _state(tab, c, batch_rows)
        with lock:
            found.append(st.counts)
        # private copies: numba's reference counts on shared arrays would bounce between cores
        own = Net._make(a.copy() for a in net)
        own_reg = Reg._make(a.copy() for a in reg)
        while not stop.is_set():
            with lock:
                t0 = next(tasks, None)
            if t0 is None:
                return
            _resume_at_root(st, root, t0)
            before = st.counts.copy()
            size = 1  # nodes per call, adapted so that a call takes about SLICE_SECONDS
            while not stop.is_set():
                t = time.perf_counter()
                visited = walk(own, own_reg, st, tab.r, tab.s, t0, t0 + 1, size)
                took = time.perf_counter() - t
                with lock:
                    nodes.append(visited)
                if st.state[0] == 0:
                    mine = st.counts - before
                    if per_task is not None:
                        with lock:
                            per_task[t0] = mine
                    if wanted.size and mine[wanted].any():
                        stop.set()
                    break
                size = next_slice(size, took, SLICE_SECONDS, SLICE)

    n = threads or cpus()
    done = first = int(totals.sum())
    try:
        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(worker) for _ in range(n)]
            try:
                while wait(futures, timeout=0.2).not_done:
                    if progress:
                        now = first + sum(int(f.sum()) for f in list(found))
                        progress(now - done)
                        done = now
                    if budget:
                        budget.check()
            finally:
                stop.set()
            for f in futures:
                f.result()
    except LimitReached as exc:  # the workers have stopped: what they settled is counted
        exc.partial = [int(v) for v in totals + sum(found, np.zeros_like(totals))]
        raise
    for f in found:
        totals += f
    if progress:
        progress(int(totals.sum()) - done)
    if stats is not None:
        stats["nodes"] = sum(nodes)
    return [int(v) for v in totals]


def subtree_find(
    model: BNN,
    region: Region,
    classes: Sequence[int],
    *,
    budget: Budget | None = None,
    distances: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> np.ndarray | None:
    """Return an input of ``region`` (or of its rings ``distances``) classified in
    ``classes``, or None, by the subtree walk: the walk stops at the first root subtree that
    holds one, then descends into it (its root flipped, its later positions free, one flip
    less) until the witness is the subtree's root, or a subtree the bounds settled in a
    wanted class (any of its inputs)."""
    from ...semantics import classify

    wanted = sorted(set(classes))
    if not wanted:
        return None
    center, free, r = region.center.copy(), list(region.free), region.radius
    dist = sorted({d for d in (range(r + 1) if distances is None else distances) if 0 <= d <= r})
    sub = region
    while True:
        tasks: dict[int, np.ndarray] = {}
        counts = subtree_counts(
            model,
            sub,
            budget=budget,
            distances=dist,
            progress=progress,
            per_task=tasks,
            stop_at=wanted,
            threads=threads,
        )
        progress = None  # the descent re-walks part of what was counted
        if not any(counts[c] for c in wanted):
            return None
        if 0 in dist and int(classify(model, center)) in wanted:
            return center
        hits = [t for t in sorted(tasks) if tasks[t][wanted].any()]
        if not hits and sum(1 for v in counts if v) == 1:
            # settled at the root by its bounds: every input of the subtree has that class
            d = min(d for d in dist if 0 < d <= len(free))
            center[[free[i] for i in range(d)]] *= -1
            return center
        if not hits:  # the root classified its few descendants in one batch: look at them
            for xs in sub.iter_points(distances=[d for d in dist if d <= sub.radius]):
                got = np.flatnonzero(np.isin(classify(model, xs), wanted))
                if got.size:
                    return xs[got[0]]
            raise AssertionError("counted inputs of a wanted class, found none")
        t0 = hits[0]
        center[free[t0]] *= -1
        free, r = free[t0 + 1 :], r - 1
        dist = [d - 1 for d in dist if d >= 1]
        r = min(r, len(free))
        sub = Region.fixed(center, free, r)
