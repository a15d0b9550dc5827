"""Enumeration engine: stream a region through batched concrete inference.

Exact and memory-bounded (one chunk at a time); the fastest engine for small regions. The
inference is the reference one (:func:`bdd4bnn.semantics.classify`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify

__all__ = ["enum_counts", "enum_find", "estimate_seconds"]

# Fitted on this project's 2-core machine (benchmarks/RESULTS.md): seconds per input =
# PER_INPUT + PER_MAC * (multiply-accumulates of one inference).
PER_INPUT = 3.0e-6
PER_MAC = 8.1e-11
CHUNK = 32768


def macs(model: BNN) -> int:
    """Return the multiply-accumulates of one inference."""
    sizes = model.layer_sizes
    return sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))


def estimate_seconds(model: BNN, inputs: int) -> float:
    """Return the estimated enumeration time for ``inputs`` inputs."""
    return inputs * (PER_INPUT + PER_MAC * macs(model))


def enum_counts(
    model: BNN,
    region: Region,
    *,
    budget: Budget | None = None,
    progress: Callable[[int], None] | None = None,
    distances: Sequence[int] | None = None,
) -> list[int]:
    """Return exact per-class counts over ``region`` (or over its rings ``distances``)."""
    counts = np.zeros(model.num_classes, dtype=np.int64)
    for x in region.iter_points(CHUNK, distances):
        counts += np.bincount(classify(model, x), minlength=model.num_classes)
        if budget:
            budget.check()
        if progress:
            progress(len(x))
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
    """Return the first input of ``region`` (nearest rings first) classified in ``classes``."""
    wanted = np.array(sorted(classes), dtype=np.int64)
    if wanted.size == 0:
        return None
    for x in region.iter_points(CHUNK, distances):
        hits = np.flatnonzero(np.isin(classify(model, x), wanted))
        if hits.size:
            return x[hits[0]]
        if budget:
            budget.check()
        if progress:
            progress(len(x))
    return None
