"""Top-down compilation: the whole network over a region into one BDD per class, by Shannon
expansion of the region's free pixels guided by three-valued bounds on the neurons.

The bottom-up construction (:mod:`bdd4bnn.engines.bdd.compile`) builds each neuron as a BDD and
composes the blocks; its intermediate functions (a Card's grid over the previous block's BDDs)
are far larger than the class BDDs it ends with. This construction goes the other way, in the
BDD's own variable order. A node at level d has decided the free pixels before ``free[d]``
(those after it still at the centre's values), may flip b more, and carries, for each unstable
first-block neuron, the number of its literals true at that input. Sound bounds then give
every neuron a value in {−1, +1, unknown} for all inputs below the node:

* a first-block neuron's count moves by at most min(b, its literals below d true at the centre)
  down and min(b, those false) up;
* a later Card is true when its literals known true reach k, false when those plus the
  unknown ones cannot; a class is possible unless one of its Cards is false, sure when all are
  true.

When the bounds leave one class possible (or make one sure), every input of the node's subtree
has that class: the node becomes that class on "at most b flips among ``free[d:]``"
(:meth:`~bdd4bnn.encoders.bdd.BddManager.region_rest`) and false
for the others. Else
both children (pixel kept, pixel flipped) are expanded. The tree of undecided nodes is built by
a compiled loop (:mod:`bdd4bnn.engines.bdd.topdown_loop`: explicit stack, run in slices so that
limits are honoured) and then turned into BDD nodes bottom-up with ``ite``, in which equal
subfunctions merge in the manager's unique table: the results are the canonical BDDs of
"input in the region and classified c", the same functions the bottom-up construction builds.

The tree can be as large as the region where the bounds decide little; :func:`compile_classes`
gives up past ``cap`` undecided nodes (the caller then composes bottom-up).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from ...encoders.bdd import BddManager
from ...encoders.constraints import Card
from ...limits import Budget, next_slice
from ...region import Region
from .tables import State, Tables

__all__ = ["compile_classes", "tables", "TREE_NODES_MAX", "SLICE", "LOOP_MODULE"]

Function = Any
TREE_NODES_MAX = 1_000_000  # undecided nodes before giving up (callers then compose bottom-up)
SLICE = 1 << 15  # the most steps per compiled call (limits are checked between calls)
SLICE_SECONDS = 0.05  # the time a call aims at (a node costs more on wide models)
LOOP_MODULE = "bdd4bnn.engines.bdd.topdown_loop"  # its first use: bdd4bnn.jit.first_use_seconds


def tables(
    blocks: list[list[Card]], classes: list[list[Card]], known0: np.ndarray, region: Region
) -> tuple[Tables, np.ndarray, np.ndarray]:
    """Return the compiled loop's tables, the first-block counts at the centre and the
    neurons' starting values (the first block's constants).

    ``blocks`` are the folded Cards per block (first block over pixels, constants as
    ``Card.const``), ``classes`` the folded output Cards per class, ``known0`` the first
    block's constants (±1, 0 when unstable): :class:`bdd4bnn.encoders.propagate.Propagation`.
    """
    free = region.free
    where = np.full(len(region.center), -1, np.int64)
    where[list(free)] = np.arange(len(free))
    unstable = [j for j, c in enumerate(blocks[0]) if not c.is_const]
    nfree, nun = len(free), len(unstable)
    delta = np.zeros((nfree, nun), np.int32)
    true_at = np.zeros((nfree + 1, nun), np.int32)
    false_at = np.zeros((nfree + 1, nun), np.int32)
    first = [blocks[0][j] for j in unstable]
    k1 = np.array([c.k for c in first], np.int32)
    col = np.repeat(np.arange(nun), [len(c.idx) for c in first])
    px = np.fromiter(itertools.chain.from_iterable(c.idx for c in first), np.int64, col.size)
    agree = np.fromiter(itertools.chain.from_iterable(c.pos for c in first), bool, col.size)
    q = where[px]  # folded: only free pixels are left
    assert (q >= 0).all(), "a first-block Card reads a fixed pixel"
    t = ((region.center[px] > 0) == agree).astype(np.int32)
    np.add.at(delta, (q, col), 1 - 2 * t)
    np.add.at(true_at, (q, col), t)
    np.add.at(false_at, (q, col), 1 - t)
    acc0 = true_at.sum(axis=0).astype(np.int32)
    below_true = np.cumsum(true_at[::-1], axis=0)[::-1].astype(np.int32)  # rows d..nfree
    below_false = np.cumsum(false_at[::-1], axis=0)[::-1].astype(np.int32)

    sizes = [len(b) for b in blocks]
    layer_vals = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # Later blocks' and the classes' Cards as flat rows, joined in C (4·10⁶ literals per
    # 2048-wide block: a Python loop over them took seconds past the budget).
    cards = [c for b in blocks[1:] for c in b] + [c for cs in classes for c in cs]
    layer_rows = [0, 0, *np.cumsum([len(b) for b in blocks[1:]]).tolist(), len(cards)]
    class_of_row = [-1] * (layer_rows[-2]) + [c for c, cs in enumerate(classes) for _ in cs]
    lens = np.fromiter((len(c.idx) for c in cards), np.int64, len(cards))
    rows = np.concatenate([[0], np.cumsum(lens)])
    lits = np.fromiter(itertools.chain.from_iterable(c.idx for c in cards), np.int64, rows[-1])
    pos = np.fromiter(itertools.chain.from_iterable(c.pos for c in cards), np.int8, rows[-1])
    row_k = [c.k for c in cards]
    row_const = [-1 if not c.is_const else int(c.is_true) for c in cards]
    tab = Tables(
        np.array(unstable, np.int64),
        k1,
        delta,
        below_true,
        below_false,
        rows.astype(np.int64),
        lits,
        pos,
        np.array(row_k, np.int64),
        np.array(row_const, np.int8),
        np.array(layer_rows, np.int64),
        layer_vals,
        np.array(class_of_row, np.int64),
        len(classes),
        region.radius,
    )
    vals = np.zeros(int(layer_vals[-1]), np.int8)
    vals[: sizes[0]] = known0 > 0
    return tab, acc0, vals


def _state(tab: Tables, acc0: np.ndarray, vals: np.ndarray, cap: int) -> State:
    nfree, nun = tab.delta.shape
    acc = np.zeros((nfree + 2, nun), np.int32)
    acc[0] = acc0
    budget = np.zeros(nfree + 2, np.int64)
    budget[0] = tab.radius
    return State(
        np.zeros(4, np.int64),  # sc: depth, nodes, root code, last result
        np.zeros(nfree + 2, np.int8),  # phase per slot
        budget,
        np.zeros(nfree + 2, np.int64),  # keep child per slot
        acc,
        vals.copy(),  # three-valued neurons, all layers
        np.zeros(cap, np.int32),  # level per tree node
        np.zeros(cap, np.int64),  # kept child
        np.zeros(cap, np.int64),  # flipped child
        np.zeros(nfree + 2, np.int64),  # unknown first-block neurons per slot
    )


def compile_classes(
    blocks: list[list[Card]],
    classes: list[list[Card]],
    known0: np.ndarray,
    region: Region,
    eng: BddManager,
    budget: Budget,
    cap: int = TREE_NODES_MAX,
    stats: dict[str, int] | None = None,
    seconds: float | None = None,
) -> dict[int, Function] | None:
    """Return {class: BDD of the region's inputs of that class} (every class), or None when
    the tree passes ``cap`` undecided nodes (or the budget's node limit: each undecided node
    becomes up to one BDD node per class) or its expansion ``seconds``. Raises LimitReached
    past the budget."""
    from ...jit import compiled_call
    from .topdown_loop import BROKEN, FULL, PAUSED, expand

    if budget.max_nodes is not None:
        cap = min(cap, budget.max_nodes)
    cap = min(cap, region.size)  # a tree with L leaves, each a non-empty part of the region
    budget.check()
    tab, acc0, vals = tables(blocks, classes, known0, region)
    st = _state(tab, acc0, vals, cap)
    start = time.perf_counter()
    budget.check()
    size = 1  # steps per call, grown (at most 4× a call) to about SLICE_SECONDS each
    while True:
        t = time.perf_counter()
        status = compiled_call(budget, expand, tab, st, size, cap)
        took = time.perf_counter() - t
        budget.check()
        if status != PAUSED:
            break
        size = next_slice(size, took, SLICE_SECONDS, SLICE)
        if seconds is not None and time.perf_counter() - start > seconds:
            status = FULL
            break
    if stats is not None:
        stats["tree_nodes"] = int(st.sc[1])  # undecided nodes finished
    if status == FULL:
        return None
    if status == BROKEN:  # pragma: no cover - the bounds are sound: an internal invariant
        raise AssertionError("top-down compilation: the bounds left no class possible")
    out = _to_bdds(st, int(st.sc[1]), int(st.sc[2]), region, eng, budget)
    return {c: out.get(c, eng.false) for c in range(len(classes))}


def _to_bdds(
    st: State, n: int, root: int, region: Region, eng: BddManager, budget: Budget
) -> dict[int, Function]:
    """Turn the tree (children before parents) into BDDs; return the root's {class: BDD}."""
    free, center = region.free, region.center
    radius1 = region.radius + 1
    ite, false = eng.bdd.ite, eng.false

    funcs: list[dict[int, Function] | None] = [None] * n

    def child(code: int, d: int) -> dict[int, Function]:
        if code >= 0:
            f = funcs[code]
            funcs[code] = None  # a tree: each node has one parent
            assert f is not None
            return f
        c, b = divmod(-1 - code, radius1)
        return {c: eng.region_rest(region, d, b)}

    level, kept, flipped = (a[:n].tolist() for a in (st.level, st.kept, st.flipped))
    for i in range(n):
        d = level[i]
        keep, flip = child(kept[i], d + 1), child(flipped[i], d + 1)
        p = free[d]
        plus, minus = (keep, flip) if center[p] > 0 else (flip, keep)
        x = eng.var(p)
        funcs[i] = {
            c: ite(x, plus.get(c, false), minus.get(c, false)) for c in plus.keys() | minus.keys()
        }
        if i & 4095 == 4095:
            budget.check()
    return child(root, 0)
