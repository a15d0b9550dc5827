"""The subtree walk's arrays, named (numba compiles NamedTuples like tuples, field access by
name included). Kept apart from the loop so that building them imports no numba."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Net", "Reg", "Walk"]


class Net(NamedTuple):
    """The model over the region's free pixels (read-only in the loop; padded to the widest
    layer)."""

    delta: np.ndarray  # (free, width): change of the first block's signed dots per flip
    inc: np.ndarray  # (free + 1, width): pixels at positions >= p that raise a neuron's dot
    dec: np.ndarray  # ... that lower it
    weights: np.ndarray  # (layers, width, width): signed weights of the later blocks
    bound: np.ndarray  # (layers, width): neuron fires iff its signed dot >= bound
    out_w: np.ndarray  # (classes, width): output weights
    k: np.ndarray  # (classes, classes): output comparison thresholds
    delta_t: np.ndarray  # delta transposed, contiguous
    weights_t: np.ndarray  # (layers, width, width): weights[l] transposed, contiguous columns


class Reg(NamedTuple):
    """The region's ring structure and the walk's batch limit."""

    allowed: np.ndarray  # allowed[d]: inputs at distance d are counted
    binom: np.ndarray  # binom[n, i] = C(n, i) for i <= radius
    tuning: np.ndarray  # [the most cell updates of one batch, REACH_EXACT_MAX]


class Walk(NamedTuple):
    """A walker's state: slot q holds the node with q − 1 flips."""

    dots: np.ndarray  # (slots, layers, width): exact pre-activations
    h: np.ndarray  # (slots, layers, width): neuron values (0/1)
    dout: np.ndarray  # (slots, classes): output scores
    act: np.ndarray  # (slots, layers, width): neurons that may still change below the node
    nact: np.ndarray  # (slots, layers): how many
    nxt: np.ndarray  # per slot: next child position
    expanded: np.ndarray  # per slot: 1 while its children are walked
    counts: np.ndarray  # per class: inputs counted
    state: np.ndarray  # [current slot, started, root expanded, count the root itself]
    scratch: np.ndarray  # (2, layers, width): a node's changed neurons and their count
    cross: np.ndarray  # (layers, width + 1, rows): a batch's crossing rows
    score: np.ndarray  # (classes + 3, rows): a batch's scores (the last row: its dots)
    threats: np.ndarray  # per class: may beat the node's class
    table: np.ndarray  # (3, rows): a batch's parent row, last position, size
    reach: np.ndarray  # (2, width): a node's downward and upward reach per neuron
