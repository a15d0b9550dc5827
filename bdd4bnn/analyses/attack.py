"""A beam-search attack: a quick upper bound on the robustness radius (a sound falsifier: every
input it returns is re-checked by the reference inference).

From the centre, each step extends the B best flip sets by one more free pixel, scoring every
extension exactly and incrementally (the first block's dots move by one column per flip, later
blocks' by the outputs that change, :mod:`bdd4bnn.kernels.dense_tail`): the
label's margin over the best other class, and, among equal margins, how close the first-block
neurons that hold that margin are to flipping. The first flip set classified as another class
is returned; it bounds the radius from above and gives the engines a smaller ball to prove.
"""

from __future__ import annotations

import numpy as np

from ..encoders.thresholds import signed_flips
from ..kernels.dense_tail import DenseTail, dense_tail
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify

__all__ = ["beam_attack"]


CHUNK_MACS = 1 << 32  # multiply-accumulates between budget checks (about 0.1 s)


def _scores(
    tail: DenseTail, fired: np.ndarray, ref: np.ndarray, budget: Budget | None
) -> np.ndarray:
    """Return float scores (N, C) for first-block outputs ``fired`` (N, m) (bool) near a beam
    member's ``ref`` (m,), in chunks of about :data:`CHUNK_MACS` with ``budget`` checked
    between them."""
    states = tail.reference(ref)
    rows = max(1, CHUNK_MACS // max(tail.later_macs, 1))
    parts = []
    for i in range(0, len(fired), rows):
        parts.append(tail.scores_near(fired[i : i + rows], states))
        if budget is not None:
            budget.check()
    return np.concatenate(parts) if parts else np.zeros((0, tail.out_w.shape[1]))


def beam_attack(
    model: BNN,
    region: Region,
    label: int,
    *,
    beam: int = 24,
    budget: Budget | None = None,
) -> tuple[int, np.ndarray] | None:
    """Return (d, x): an input of ``region`` at distance d classified other than ``label``,
    found by beam search (not necessarily the nearest), or None."""
    free = np.array(region.free, dtype=np.int64)
    if free.size == 0 or region.radius == 0:
        return None
    base, delta, bound = signed_flips(model.blocks[0], region.center, free)
    delta = delta.astype(np.int32)  # |dots| <= n
    one_block = len(model.blocks) == 1
    tail = dense_tail(model)
    w = model.output.weight.astype(np.float64)
    others = np.array([c for c in range(model.num_classes) if c != label])
    sets: list[tuple[int, ...]] = [()]
    dots = base[None, :]
    seen: set[tuple[int, ...]] = set()
    for depth in range(1, region.radius + 1):
        cand_sets, margins, scores = [], [], []
        for f, d in zip(sets, dots, strict=True):  # one beam member's extensions at a time
            mask = np.ones(free.size, dtype=bool)
            mask[list(f)] = False
            ts = np.flatnonzero(mask)
            nd = d[None, :] + delta[ts]
            fired = nd >= bound
            s = _scores(tail, fired, d >= bound, budget)
            margin = s[:, label] - s[:, others].max(axis=1)
            score = margin
            if one_block:  # how near the neurons that favour the label over the runner-up are
                runner = others[np.argmax(s[:, others], axis=1)]
                h = np.where(fired, 1.0, -1.0)
                gain = h * (w[label][None, :] - w[runner])  # > 0: the neuron holds the margin
                need = np.where(fired, nd - bound + 1, bound - nd)  # dot steps to flip it
                score = margin - 0.5 * (np.maximum(gain, 0) / np.maximum(need, 1)).sum(axis=1)
            cand_sets.extend((f, d, int(t)) for t in ts)
            margins.append(margin)
            scores.append(score)
        margin, score = np.concatenate(margins), np.concatenate(scores)
        order = np.argsort(score, kind="stable")
        new_sets, new_dots = [], []
        for i in order:
            parent, d, t = cand_sets[i]
            f = tuple(sorted((*parent, t)))
            if f in seen:
                continue
            seen.add(f)
            if margin[i] <= 0:  # maybe another class: check with the reference inference
                x = region.center.copy()
                x[free[list(f)]] *= -1
                if int(classify(model, x)) != label:
                    return depth, x
            new_sets.append(f)
            new_dots.append(d + delta[t])
            if len(new_sets) == beam:
                break
        sets, dots = new_sets, np.array(new_dots)
        if budget is not None:
            budget.check()
    return None
