"""The compiled inner loop of :mod:`bdd4bnn.engines.enum.subtree` (numba).

Separate so that importing the analysis does not import numba; see that module for the method.
Arguments are the named tuples of :mod:`.tables` (built by :mod:`bdd4bnn.engines.enum.subtree`):
``net`` a :class:`~.tables.Net`, ``reg`` a :class:`~.tables.Reg`, ``st`` a :class:`~.tables.Walk`.
"""

from __future__ import annotations

import numba

from ...jit import OPTIONS as _JIT
from ...jit import compiled
from ...region import count_range

_count_range = compiled(count_range)

__all__ = ["walk"]

GENERAL_ROWS = 128  # the largest batch of three or more flips (a subset table)
# a layer whose tracked neurons are at least 1/DENSE_SHARE of the width is updated by whole
# columns of the transposed weights (contiguous, vectorised) rather than neuron by neuron
DENSE_SHARE = 4


@numba.njit(**_JIT)
def walk(net, reg, st, r, s, lo, hi, max_nodes):
    """Walk up to ``max_nodes`` nodes from the saved state; return the nodes visited.

    Slot q holds the node with q − 1 flips; slot 0 is a virtual parent (the centre, every
    neuron active). Only the root's children ``lo..hi−1`` are walked (a task). ``state`` =
    [current slot (0 when finished), started, root expanded, count the root itself].
    """
    nxt, expanded, state = st.nxt, st.expanded, st.state
    visited = 0
    slot = state[0]
    if state[1] == 0:
        state[1] = 1
        visited += 1
        if _node(net, reg, st, r, s, -1, 1, 0, state[3] == 1):
            slot, nxt[1], expanded[1], state[2] = 1, lo, 1, 1
        else:
            slot = 0
    while slot >= 1 and visited < max_nodes:
        if expanded[slot] == 1 and nxt[slot] < (hi if slot == 1 else s):
            t = nxt[slot]
            nxt[slot] = t + 1
            visited += 1
            if _node(net, reg, st, r, s, t, slot + 1, t + 1, True):
                slot += 1
                nxt[slot], expanded[slot] = t + 1, 1
        else:
            expanded[slot] = 0
            slot -= 1
    state[0] = slot
    return visited


@numba.njit(inline="always", **_JIT)
def _node(net, reg, st, r, s, t, q, p, count_self):  # noqa: C901 - one node, kept in one compiled body
    """Fill slot q (the parent's child by flip t; t < 0: the root), count; return expand.

    ``count_self`` false: an expanded node does not count itself (a task's copy of the root).
    """
    delta, inc, dec, weights, wt = net.delta, net.inc, net.dec, net.weights, net.weights_t
    bound, out_w, k = net.bound, net.out_w, net.k
    allowed, binom, tuning = reg
    dots, h, dout, act, nact, counts, scratch = (
        st.dots,
        st.h,
        st.dout,
        st.act,
        st.nact,
        st.counts,
        st.scratch,
    )
    nl = nact.shape[1]
    c = out_w.shape[0]
    changed, nchanged = scratch[0], scratch[1][:, 0]
    parent = q - 1
    depth = q - 1
    last = nl - 1
    # the node's exact values, for the neurons that may differ from the parent's
    for layer in range(nl):
        nchanged[layer] = 0
    for a in range(nact[parent, 0]):
        j = act[parent, 0, a]
        d = dots[parent, 0, j]
        if t >= 0:
            d += delta[t, j]
        dots[q, 0, j] = d
        v = 1 if d >= bound[0, j] else 0
        changed[0, nchanged[0]] = j  # branch-free list append: kept iff the value changed
        nchanged[0] += v != h[parent, 0, j]
        h[q, 0, j] = v
    big = dots.shape[2]
    for layer in range(1, nl):
        na = nact[parent, layer]
        if na * DENSE_SHARE >= big and nchanged[layer - 1] > 0:
            # most neurons tracked (wide dense layers): add whole columns, contiguous
            row, prow = dots[q, layer], dots[parent, layer]
            row[:] = prow
            for e in range(nchanged[layer - 1]):
                j = changed[layer - 1, e]
                _add_column(row, wt[layer, j], 2 if h[q, layer - 1, j] == 1 else -2)
            for a in range(na):
                kk = act[parent, layer, a]
                v = 1 if row[kk] >= bound[layer, kk] else 0
                changed[layer, nchanged[layer]] = kk
                nchanged[layer] += v != h[parent, layer, kk]
                h[q, layer, kk] = v
            continue
        for a in range(na):
            kk = act[parent, layer, a]
            d = dots[parent, layer, kk]
            for e in range(nchanged[layer - 1]):
                j = changed[layer - 1, e]
                w = weights[layer, kk, j]
                d += 2 * w if h[q, layer - 1, j] == 1 else -2 * w
            dots[q, layer, kk] = d
            v = 1 if d >= bound[layer, kk] else 0
            changed[layer, nchanged[layer]] = kk
            nchanged[layer] += v != h[parent, layer, kk]
            h[q, layer, kk] = v
    for cc in range(c):
        d = dout[parent, cc]
        for e in range(nchanged[last]):
            j = changed[last, e]
            w = out_w[cc, j]
            d += 2 * w if h[q, last, j] == 1 else -2 * w
        dout[q, cc] = d
    win = _winner(dout[q], k)
    b = r - depth
    rem = s - p
    if b <= 0 or rem <= 0:
        if allowed[depth]:
            counts[win] += 1
        return False
    # the neurons that may still change within the subtree (b more flips at positions >= p)
    n0 = 0
    for a in range(nact[parent, 0]):
        j = act[parent, 0, a]
        d = dots[q, 0, j]
        lo, hi = _count_range(0, dec[p, j], inc[p, j], b)  # change of the pushing count
        if h[q, 0, j] == 1:
            unstable = d + 2 * lo < bound[0, j]
        else:
            unstable = d + 2 * hi >= bound[0, j]
        act[q, 0, n0] = j
        n0 += unstable
    nact[q, 0] = n0
    for layer in range(1, nl):
        n1 = 0
        prev = nact[q, layer - 1]
        na = nact[parent, layer]
        if prev > tuning[1]:
            # |w| <= 1 (checked when the tables are built): the moves reach at most 2·prev,
            # a bound that costs no pass over the columns (those passes cost width² steps
            # per node on wide layers, where so many unstable inputs leave little stable)
            for a in range(na):
                kk = act[parent, layer, a]
                d = dots[q, layer, kk]
                if h[q, layer, kk] == 1:
                    unstable = d - 2 * prev < bound[layer, kk]
                else:
                    unstable = d + 2 * prev >= bound[layer, kk]
                act[q, layer, n1] = kk
                n1 += unstable
            nact[q, layer] = n1
            continue
        if na * DENSE_SHARE >= big:  # the reach of every neuron, column by column
            down, up = st.reach[0], st.reach[1]
            down[:] = 0
            up[:] = 0
            for e in range(prev):
                j = act[q, layer - 1, e]
                if h[q, layer - 1, j] == 1:  # moves −2w
                    _add_reach(down, up, wt[layer, j])
                else:  # moves +2w
                    _add_reach(up, down, wt[layer, j])
            for a in range(na):
                kk = act[parent, layer, a]
                d = dots[q, layer, kk]
                if h[q, layer, kk] == 1:
                    unstable = d - down[kk] < bound[layer, kk]
                else:
                    unstable = d + up[kk] >= bound[layer, kk]
                act[q, layer, n1] = kk
                n1 += unstable
            nact[q, layer] = n1
            continue
        for a in range(na):
            kk = act[parent, layer, a]
            # an unstable neuron j moves this dot by −2w (now on) or +2w (now off), and only
            # the moves towards the threshold count
            d = dots[q, layer, kk]
            on = h[q, layer, kk] == 1
            reach = 0
            for e in range(prev):
                j = act[q, layer - 1, e]
                w = weights[layer, kk, j]
                move = -2 * w if h[q, layer - 1, j] == 1 else 2 * w
                if (move < 0) == on:
                    reach += abs(move)
            if on:
                unstable = d - reach < bound[layer, kk]
            else:
                unstable = d + reach >= bound[layer, kk]
            act[q, layer, n1] = kk
            n1 += unstable
        nact[q, layer] = n1
    # the descendants (up to bb more flips) are classified in one batch when they fit
    bb = min(b, rem)
    rows = 0
    for i in range(1, bb + 1):
        rows += binom[rem, i]
    batch = rows <= (st.cross.shape[2] if bb <= 2 else min(st.cross.shape[2], GENERAL_ROWS))
    if batch:
        work = nact[q, 0] + nact[q, last] * c
        for layer in range(1, nl):
            work += nact[q, layer] * nact[q, layer - 1]
        batch = rows * work <= tuning[0]
    nthreat = _threats(st, q, win, out_w, k, not batch)  # all of them for a batch
    fixed = nthreat == 0
    if fixed:  # every input of the subtree has the node's class
        total = 0
        for i in range(b + 1):
            if allowed[depth + i]:
                total += binom[rem, i]
        counts[win] += total
        return False
    if allowed[depth] and count_self:
        counts[win] += 1
    if not batch:
        return True
    _leaves(net, reg, st, q, p, s, win, nthreat, depth, bb, rows)
    return False


@numba.njit(inline="always", **_JIT)
def _add_column(row, col, two):
    """row += two · col (a contiguous loop the compiler vectorises)."""
    for i in range(row.shape[0]):
        row[i] += two * col[i]


@numba.njit(inline="always", **_JIT)
def _add_reach(pos, neg, col):
    """Add 2·max(w, 0) to ``pos`` and 2·max(−w, 0) to ``neg`` for the weights ``col``."""
    for i in range(col.shape[0]):
        w = col[i]
        pos[i] += 2 * max(w, 0)
        neg[i] += 2 * max(-w, 0)


@numba.njit(inline="always", **_JIT)
def _subsets(n, bb, parent, pos, size):
    """Fill the batch table: every subset of range(n) with 1..bb elements, each after its
    parent (the subset without its largest element; −1: the node itself)."""
    m = 0
    for t in range(n):
        parent[m], pos[m], size[m] = -1, t, 1
        m += 1
    i = 0
    while i < m:
        if size[i] < bb:
            for t in range(pos[i] + 1, n):
                parent[m], pos[m], size[m] = i, t, size[i] + 1
                m += 1
        i += 1


@numba.njit(inline="always", **_JIT)
def _threats(st, q, win, out_w, k, first):
    """List in ``st.threats`` the classes that may beat ``win`` somewhere in slot q's subtree
    (with the last layer's unstable neurons free); return how many (at most 1 if ``first``)."""
    h, act, nact, dout, threats = st.h, st.act, st.nact, st.dout, st.threats
    last = nact.shape[1] - 1
    n = 0
    for cc in range(out_w.shape[0]):
        if cc == win:
            continue
        worst = dout[q, win] - dout[q, cc]
        for e in range(nact[q, last]):
            j = act[q, last, e]
            w = out_w[win, j] - out_w[cc, j]
            move = -2 * w if h[q, last, j] == 1 else 2 * w
            if move < 0:
                worst += move
        if worst < k[win, cc]:
            threats[n] = cc
            n += 1
            if first:
                break
    return n


@numba.njit(inline="always", **_JIT)
def _winner(scores, k):
    """Return the class of integer output dots: classes are totally ordered by ``k``."""
    win = 0
    for cc in range(1, scores.shape[0]):
        if scores[cc] - scores[win] >= k[cc, win]:
            win = cc
    return win


@numba.njit(inline="always", **_JIT)
def _leaves(net, reg, st, q, p, s, win, nthreat, depth, bb, rows):
    """Count the ``rows`` descendants of slot q with 1..bb more flips, vectorised over them.

    Only the node's unstable neurons can differ from the node: row ``cross[l, a]`` is 1 at
    the descendants where unstable neuron a of layer l changes. Later layers' dots, and the
    margins of the node's class over the classes that may beat it (``st.threats[:nthreat]``;
    no other class can win in the subtree), are the node's plus the changing neurons' ±2w.
    For bb <= 2 the rows are the n = s − p children, then the pairs (t1 < t2) in
    lexicographic order, built from contiguous slices; deeper batches follow a table
    (``st.table``: parent row, last position, size), each row its parent's plus one flip.
    """
    weights, bound, out_w, k, delta_t = net.weights, net.bound, net.out_w, net.k, net.delta_t
    allowed = reg.allowed
    dots, h, dout, act, nact, counts = st.dots, st.h, st.dout, st.act, st.nact, st.counts
    cross, score, threats, table = st.cross, st.score, st.threats, st.table
    nl = nact.shape[1]
    n = s - p
    last = nl - 1
    parent, pos, size = table[0], table[1], table[2]
    if bb <= 2:
        for t in range(rows):
            size[t] = 1 if t < n else 2
    else:
        _subsets(n, bb, parent, pos, size)
    for a in range(nact[q, 0]):
        j = act[q, 0, a]
        d, bd, hv, drow = dots[q, 0, j], bound[0, j], h[q, 0, j], delta_t[j, p:]
        row = cross[0, a]
        if bb > 2:
            val = score[score.shape[0] - 1]
            for i in range(rows):
                val[i] = (d if parent[i] < 0 else val[parent[i]]) + drow[pos[i]]
            for i in range(rows):
                row[i] = (1 if val[i] >= bd else 0) != hv
            continue
        for t in range(n):
            row[t] = (1 if d + drow[t] >= bd else 0) != hv
        if bb == 2:
            i = n
            for t1 in range(n - 1):
                d1, sub, out = d + drow[t1], drow[t1 + 1 :], row[i:]
                for u in range(n - 1 - t1):
                    out[u] = (1 if d1 + sub[u] >= bd else 0) != hv
                i += n - 1 - t1
    for layer in range(1, nl):
        prev = nact[q, layer - 1]
        for a in range(nact[q, layer]):
            kk = act[q, layer, a]
            acc = score[0]  # a scratch row: the unit's dot per child
            acc[:rows] = dots[q, layer, kk]
            for e in range(prev):
                j = act[q, layer - 1, e]
                w = weights[layer, kk, j]
                w = -2 * w if h[q, layer - 1, j] == 1 else 2 * w
                src = cross[layer - 1, e]
                for t in range(rows):
                    acc[t] += src[t] * w
            bd, hv = bound[layer, kk], h[q, layer, kk]
            row = cross[layer, a]
            for t in range(rows):
                row[t] = (1 if acc[t] >= bd else 0) != hv
    # margin rows: score[1 + i] = s_win − s_threat(i) per child
    for i in range(nthreat):
        cc = threats[i]
        row = score[1 + i]
        row[:rows] = dout[q, win] - dout[q, cc]
        for e in range(nact[q, last]):
            j = act[q, last, e]
            w = out_w[win, j] - out_w[cc, j]
            w = -2 * w if h[q, last, j] == 1 else 2 * w
            src = cross[last, e]
            for t in range(rows):
                row[t] += src[t] * w
    keep = score[1 + nthreat]  # 1 while the node's class still wins
    keep[:rows] = 1
    for i in range(nthreat):
        row, kk = score[1 + i], k[win, threats[i]]
        for t in range(rows):
            keep[t] &= row[t] >= kk
    same = 0
    for t in range(rows):
        if not allowed[depth + size[t]]:
            continue
        if keep[t]:
            same += 1
            continue
        # the winner among the node's class and its threats (no other class can win)
        best, best_margin = win, 0  # margin = s_win − s_best
        for i in range(nthreat):
            cc = threats[i]
            m = score[1 + i, t]  # s_win − s_cc
            if best_margin - m >= k[cc, best]:  # s_cc − s_best
                best, best_margin = cc, m
        counts[best] += 1
    counts[win] += same
