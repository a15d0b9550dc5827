"""Shared test helpers: where ../shared is, random BNNs, and an independent brute-force oracle."""

from __future__ import annotations

import itertools
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from bdd4bnn.model import BNN

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BDD4BNN_SHARED", ROOT.parent / "shared"))
PEERS = SHARED / "peers" / "bnnquanalyst"


def need_shared(*parts: str) -> Path:
    """Return a path under shared/, or skip the test with a message when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not found (set BDD4BNN_SHARED to the shared/ folder)")
    return p


# -- independent oracle (scalar Python, exact output comparison) ------------------------------
def oracle_classify(model: BNN, x) -> int:
    """Classify one ±1 input by the issue's semantics, written independently of bdd4bnn."""
    h = [int(v) for v in x]
    for block in model.blocks:
        nxt = []
        for j in range(block.out_size):
            dot = sum(int(w) * v for w, v in zip(block.weight[j], h, strict=True))
            a = float(dot) + float(block.bias[j])
            if block.bn is not None:
                bn = block.bn
                z = float(bn.gamma[j]) * (a - float(bn.mean[j])) / math.sqrt(
                    float(bn.var[j]) + bn.eps
                ) + float(bn.beta[j])
            else:
                z = a
            nxt.append(1 if z >= 0 else -1)
        h = nxt
    scores = [
        Fraction(sum(int(w) * v for w, v in zip(row, h, strict=True))) + Fraction(float(b))
        for row, b in zip(model.output.weight, model.output.bias, strict=True)
    ]
    best = max(scores)
    return scores.index(best)


def region_points(center, free, radius):
    """Yield every input of the region (independent of Region.iter_points)."""
    center = list(int(v) for v in center)
    for k in range(radius + 1):
        for flips in itertools.combinations(free, k):
            x = list(center)
            for i in flips:
                x[i] = -x[i]
            yield x


def make_region(center, free, radius, kind):
    """Return the Region a strategy case describes."""
    from bdd4bnn.region import Region

    if kind == "hamming":
        return Region.hamming(center, radius)
    return Region.fixed(center, free, radius)


def oracle_counts(model: BNN, center, free, radius, distances=None) -> list[int]:
    """Per-class counts by brute force (only inputs at ``distances`` from the centre, if
    given)."""
    counts = [0] * model.num_classes
    for x in region_points(center, free, radius):
        if distances is None or sum(a != b for a, b in zip(x, center, strict=True)) in distances:
            counts[oracle_classify(model, x)] += 1
    return counts


# -- random BNNs --------------------------------------------------------------------------------
_BIASES = st.one_of(
    st.sampled_from([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 0.1, 2.1, -0.3]),
    st.floats(-4, 4, allow_nan=False, width=32),
)


@st.composite
def bnns(draw, max_inputs: int = 10, max_blocks: int = 3, max_width: int = 6):
    """Draw a small random BNN with batch norm that often lands exactly on integer thresholds,
    negative and zero gamma, and output ties; one in three is ternary (weights in {-1,0,1})."""
    values = draw(st.sampled_from([[-1, 1], [-1, 1], [-1, 0, 1]]))
    n = draw(st.integers(2, max_inputs))
    sizes = [n] + [draw(st.integers(1, max_width)) for _ in range(draw(st.integers(1, max_blocks)))]
    classes = draw(st.integers(2, 4))
    blocks = []
    for i in range(len(sizes) - 1):
        rows, cols = sizes[i + 1], sizes[i]
        w = draw(
            st.lists(
                st.lists(st.sampled_from(values), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
        spec = {"weight": w, "bias": draw(st.lists(_BIASES, min_size=rows, max_size=rows))}
        if draw(st.booleans()):
            spec["bn"] = {
                "gamma": draw(
                    st.lists(
                        st.sampled_from([1.0, -1.0, 0.0, 2.5, -0.7, 0.3]),
                        min_size=rows,
                        max_size=rows,
                    )
                ),
                "beta": draw(
                    st.lists(
                        st.sampled_from([0.0, 1.0, -1.0, 0.25, -2.0]), min_size=rows, max_size=rows
                    )
                ),
                "mean": draw(
                    st.lists(
                        st.sampled_from([0.0, 1.0, -2.0, 3.0, 0.5, -0.37]),
                        min_size=rows,
                        max_size=rows,
                    )
                ),
                "var": draw(
                    st.lists(st.sampled_from([1.0, 4.0, 0.25, 2.0]), min_size=rows, max_size=rows)
                ),
                "eps": draw(st.sampled_from([0.0, 1e-5])),
            }
        blocks.append(spec)
    out_w = draw(
        st.lists(
            st.lists(st.sampled_from(values), min_size=sizes[-1], max_size=sizes[-1]),
            min_size=classes,
            max_size=classes,
        )
    )
    out_b = draw(
        st.lists(
            st.sampled_from([0.0, 0.0, 1.0, -2.0, 0.1, 2.1, 0.5]),
            min_size=classes,
            max_size=classes,
        )
    )
    return BNN.build(n, blocks, {"weight": out_w, "bias": out_b})


@st.composite
def bnn_and_region(draw, max_inputs: int = 10):
    """Draw (model, center, free, radius): a Hamming ball or a fixed-index region."""
    model = draw(bnns(max_inputs=max_inputs))
    n = model.input_size
    center = np.array(draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)))
    if draw(st.booleans()):
        free = list(range(n))
        radius = draw(st.integers(0, n))
        kind = "hamming"
    else:
        free = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
        radius = draw(st.integers(0, len(free)))
        kind = "fixed"
    return model, center, free, radius, kind
