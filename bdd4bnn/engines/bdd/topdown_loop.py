"""The compiled inner loop of :mod:`bdd4bnn.engines.bdd.topdown` (numba).

Separate so that importing the encoder does not import numba; see that module for the method.
``tab`` is a :class:`~.tables.Tables`, ``st`` a :class:`~.tables.State`, both built by
:mod:`bdd4bnn.engines.bdd.topdown`.
"""

from __future__ import annotations

import numba

from ...jit import OPTIONS as _JIT
from ...jit import compiled
from ...region import count_range

_count_range = compiled(count_range)

__all__ = ["expand", "DONE", "PAUSED", "FULL", "BROKEN"]


DONE, PAUSED, FULL, BROKEN = 0, 1, 2, 3
UNKNOWN = 2  # a three-valued neuron: 0 (−1), 1 (+1) or UNKNOWN


@numba.njit(inline="always", **_JIT)
def _row(tab, vals, row, base):
    """Three-valued value of Card ``row`` whose literals read ``vals[base + i]``."""
    rows, lits, pos, row_k, row_const = tab.rows, tab.lits, tab.pos, tab.row_k, tab.row_const
    if row_const[row] >= 0:
        return row_const[row]
    true = 0
    unknown = 0
    for t in range(rows[row], rows[row + 1]):
        v = vals[base + lits[t]]
        if v == UNKNOWN:
            unknown += 1
        elif v == pos[t]:
            true += 1
    k = row_k[row]
    if true >= k:
        return 1
    if true + unknown < k:
        return 0
    return UNKNOWN


@numba.njit(**_JIT)
def _decide(tab, st, d, b, acc):
    """Return the class of every input below node (level d, b flips left, counts acc), −1 when
    the bounds leave two or more classes possible, −2 when they leave none (a broken table).

    A child's first-block intervals lie inside its parent's, so a child with as many unknown
    first-block neurons as its (undecided) parent has the same values everywhere: undecided.
    """
    un, k1, below_true, below_false = tab.unstable, tab.k1, tab.below_true, tab.below_false
    layer_rows, layer_vals, class_of_row, nclasses = (
        tab.layer_rows,
        tab.layer_vals,
        tab.class_of_row,
        tab.nclasses,
    )
    vals, unknowns = st.vals, st.unknowns
    unknown = 0
    for a in range(un.shape[0]):  # first block: count of true literals within [lo, hi]
        lo, hi = _count_range(acc[a], below_true[d, a], below_false[d, a], b)
        v = 1 if lo >= k1[a] else (0 if hi < k1[a] else UNKNOWN)
        vals[un[a]] = v
        unknown += v == UNKNOWN
    unknowns[d] = unknown
    if d > 0 and unknown == unknowns[d - 1]:
        return -1
    nlayers = layer_vals.shape[0] - 1
    for layer in range(1, nlayers):
        base, out = layer_vals[layer - 1], layer_vals[layer]
        for j in range(layer_rows[layer + 1] - layer_rows[layer]):
            vals[out + j] = _row(tab, vals, layer_rows[layer] + j, base)
    # classes in turn: a sure class decides; a second possible one leaves the node undecided
    base = layer_vals[nlayers - 1]
    left = 0
    last = -2
    row = layer_rows[nlayers]
    end = layer_rows[nlayers + 1]
    for c in range(nclasses):
        possible = True
        sure = True
        while row < end and class_of_row[row] == c:
            if possible:
                v = _row(tab, vals, row, base)
                if v == 0:
                    possible = False
                elif v == UNKNOWN:
                    sure = False
            row += 1
        if possible:
            if sure:
                return c
            left += 1
            if left > 1:
                return -1
            last = c
    return last


@numba.njit(**_JIT)
def expand(tab, st, quota, cap):
    """Expand nodes from the saved state for up to ``quota`` steps (a node is one step, plus
    one per 1024 literals when it reads every later Card: a node of a 2048-wide model reads
    millions); return DONE, PAUSED, FULL or BROKEN.

    The tree is walked depth first (slot d = the node at level d); a decided node becomes a leaf
    code −1 − (c·(radius + 1) + b) (class c on the b-flip rest of the region below it); an
    undecided one becomes node ``n`` (its level, its keep child, its flip child), appended after
    its children. ``sc`` = [depth, nodes, root code, last result].
    """
    delta, radius = tab.delta, tab.radius
    sc, phase, budget, keep, acc = st.sc, st.phase, st.budget, st.keep, st.acc
    level, kept, flipped = st.level, st.kept, st.flipped
    nfree = delta.shape[0]
    depth, n, res = sc[0], sc[1], sc[3]
    steps = 0
    while True:
        d = depth
        if phase[d] == 0:
            if steps >= quota:
                sc[0], sc[1], sc[3] = depth, n, res
                return PAUSED
            steps += 1
            b = budget[d]
            c = _decide(tab, st, d, b, acc[d])
            if d == 0 or st.unknowns[d] != st.unknowns[d - 1]:  # every later Card was read
                steps += (tab.lits.shape[0] + tab.unstable.shape[0]) >> 10
            if c == -2:
                return BROKEN
            if c >= 0:
                res = -1 - (c * (radius + 1) + min(b, nfree - d))
            else:
                if b == 0 or d == nfree:  # exact there: the bounds must decide
                    return BROKEN
                if n + d + 1 > cap:  # this node and its d ancestors are still to be stored
                    sc[0], sc[1], sc[3] = depth, n, res
                    return FULL
                phase[d] = 1
                acc[d + 1, :] = acc[d, :]
                budget[d + 1] = b
                phase[d + 1] = 0
                depth = d + 1
                continue
        elif phase[d] == 1:
            keep[d] = res
            phase[d] = 2
            for a in range(acc.shape[1]):
                acc[d + 1, a] = acc[d, a] + delta[d, a]
            budget[d + 1] = budget[d] - 1
            phase[d + 1] = 0
            depth = d + 1
            continue
        else:
            level[n], kept[n], flipped[n] = d, keep[d], res
            res = n
            n += 1
        if d == 0:
            sc[0], sc[1], sc[2], sc[3] = 0, n, res, res
            return DONE
        depth = d - 1
