"""The top-down construction's arrays, named (numba compiles NamedTuples like tuples, field
access by name included). Kept apart from the loop so that building them imports no numba."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Tables", "State"]


class Tables(NamedTuple):
    """The model folded over the region, as flat integer arrays (read-only in the loop)."""

    unstable: np.ndarray  # first-block neurons that may change (indices into the block)
    k1: np.ndarray  # their thresholds: at least k1[a] true literals
    delta: np.ndarray  # (free pixels, unstable): change of the true count when the pixel flips
    below_true: np.ndarray  # (free + 1, unstable): literals at positions >= d true at the centre
    below_false: np.ndarray  # ... and false at the centre
    rows: np.ndarray  # later Cards (hidden blocks, then classes): literal ranges, CSR style
    lits: np.ndarray  # literal's neuron (index into the previous layer)
    pos: np.ndarray  # literal's polarity (1: the neuron is +1)
    row_k: np.ndarray  # Card thresholds
    row_const: np.ndarray  # −1, or the Card's constant value (0 / 1)
    layer_rows: np.ndarray  # first row of each layer's Cards (the last layer: the classes)
    layer_vals: np.ndarray  # offset of each layer's neurons in the three-valued ``vals``
    class_of_row: np.ndarray  # class of an output Card row, −1 for hidden rows
    nclasses: int
    radius: int


class State(NamedTuple):
    """The resumable walk: a depth-first stack of slots and the tree built so far."""

    sc: np.ndarray  # [depth, nodes, root code, last result]
    phase: np.ndarray  # per slot: which child comes next
    budget: np.ndarray  # per slot: flips left
    keep: np.ndarray  # per slot: the finished keep child's code
    acc: np.ndarray  # per slot: true counts of the unstable first-block neurons
    vals: np.ndarray  # three-valued neurons of every layer
    level: np.ndarray  # per tree node: the free pixel it branches on
    kept: np.ndarray  # per tree node: its keep child's code
    flipped: np.ndarray  # per tree node: its flip child's code
    unknowns: np.ndarray  # per slot: unknown first-block neurons
