"""The subtree-counting enumeration walk against brute force and the streaming engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count
from bdd4bnn.engines.enum.stream import enum_counts, uses_subtree
from bdd4bnn.engines.enum.subtree import subtree_counts, subtree_find
from bdd4bnn.errors import LimitReached
from bdd4bnn.limits import Budget
from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify

from .conftest import (
    bnn_and_region,
    make_region,
    need_shared,
    oracle_classify,
    oracle_counts,
    region_points,
)


@settings(max_examples=200, deadline=None)
@given(
    bnn_and_region(max_inputs=12),
    st.integers(1, 2),
    st.sampled_from([1, 5, 40, 8192]),
    st.sampled_from([0, 50, 1 << 25]),
    st.sampled_from([0, 2, 256]),
    st.data(),
)
def test_subtree_counts_equal_brute_force(case, threads, batch_rows, batch_work, reach, data):
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    distances = None
    if data.draw(st.booleans()):
        distances = sorted(data.draw(st.sets(st.integers(-1, r + 1), max_size=3)))
    want = oracle_counts(model, center, free, r, distances)
    got = subtree_counts(
        model,
        region,
        distances=distances,
        threads=threads,
        batch_rows=batch_rows,
        batch_work=batch_work,
        reach_exact_max=reach,
    )
    assert got == want


@settings(max_examples=150, deadline=None)
@given(bnn_and_region(max_inputs=12), st.sampled_from([1, 8192]))
def test_subtree_bounds_of_later_layers_per_input_equal_brute_force(case, batch_rows):
    """Deep models, node by node, every later layer's reach bounded by 2 per unstable input
    (the wide-model path) and by column sums (the dense path)."""
    model, center, free, r, kind = case
    assume(len(model.blocks) >= 2 and r >= 2)
    region = make_region(center, free, r, kind)
    want = oracle_counts(model, center, free, r, None)
    for reach in (0, 256):
        got = subtree_counts(
            model, region, threads=1, batch_rows=batch_rows, batch_work=0, reach_exact_max=reach
        )
        assert got == want


@settings(max_examples=200, deadline=None)
@given(bnn_and_region(max_inputs=12), st.integers(1, 2), st.data())
def test_subtree_find_equals_brute_force(case, threads, data):
    """A witness in the wanted classes and the rings asked, exactly when brute force has one."""
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    classes = sorted(data.draw(st.sets(st.integers(0, model.num_classes - 1), max_size=3)))
    distances = None
    if data.draw(st.booleans()):
        distances = sorted(data.draw(st.sets(st.integers(0, r), max_size=2)))
    want = oracle_counts(model, center, free, r, distances)
    x = subtree_find(model, region, classes, distances=distances, threads=threads)
    if not any(want[c] for c in classes):
        assert x is None
        return
    assert x is not None and region.contains(x)
    assert oracle_classify(model, x) in classes
    if distances is not None:
        assert int(np.sum(x != center)) in distances


def _wide_margin_model(n: int) -> BNN:
    """Two hidden neurons that ignore all but one input, far from their thresholds."""
    w = np.zeros((2, n), dtype=np.int8)
    w[0, 0] = w[1, 1] = 1
    return BNN.build(n, [{"weight": w, "bias": [5.0, -5.0]}], {"weight": [[1, 1], [-1, -1]]})


def test_subtree_settles_a_stable_region_at_the_root():
    model = _wide_margin_model(30)
    region = Region.hamming(np.ones(30, dtype=np.int8), 6)
    stats = {}
    got = subtree_counts(model, region, stats=stats)
    label = oracle_classify(model, region.center)
    assert got[label] == region.size and sum(got) == region.size
    assert stats["nodes"] == 1  # the whole ball counted without visiting a child


def test_subtree_prunes_below_the_root():
    # hidden neuron 0 reads input 0 only, with margin 1: flipping input 0 changes the class
    n = 20
    w = np.zeros((1, n), dtype=np.int8)
    w[0, 0] = 1
    model = BNN.build(n, [{"weight": w}], {"weight": [[1], [-1]]})
    region = Region.hamming(np.ones(n, dtype=np.int8), 4)
    stats = {}
    got = subtree_counts(model, region, stats=stats)
    flipped = sum(1 for x in region_points(region.center, range(n), 4) if x[0] < 0)
    assert got == [region.size - flipped, flipped]
    assert stats["nodes"] < region.size // 10


@pytest.mark.parametrize(
    "name, inst, spec",
    [
        ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", 3),
        ("mnist_bnn_1_blk_100_100_10", "instance_2_100", 3),
        ("mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", 5),
        ("mnist_bnn_1_blk_784_100_10", "instance_0_784", "fixed_set_file_random_784_15.txt"),
    ],
)
def test_subtree_equals_streaming_on_bnnquanalyst(name, inst, spec):
    model = load_model(need_shared("peers", "bnnquanalyst", "models", name))
    u = load_input(need_shared("peers", "bnnquanalyst", "inputs", f"{inst}.txt"), model.input_size)
    if isinstance(spec, int):
        region = Region.hamming(u, spec)
    else:
        path = need_shared("peers", "bnnquanalyst", "inputs", spec)
        region = Region.fixed(u, [int(t) for t in path.read_text().split()])
    stream = enum_counts(model, region, method="stream")
    assert subtree_counts(model, region, threads=2) == stream
    assert subtree_counts(model, region, distances=[2, 3], threads=1) == enum_counts(
        model, region, distances=[2, 3], method="stream"
    )


def test_subtree_progress_sums_to_the_region_and_limits_stop_it():
    rng = np.random.default_rng(3)
    n = 60
    model = BNN.build(
        n,
        [{"weight": rng.choice([-1, 1], size=(20, n))}],
        {"weight": rng.choice([-1, 1], size=(4, 20))},
    )
    region = Region.hamming(rng.choice([-1, 1], size=n).astype(np.int8), 4)
    seen = []
    got = subtree_counts(model, region, progress=seen.append)
    assert sum(seen) == sum(got) == region.size
    with pytest.raises(LimitReached):
        subtree_counts(model, Region.hamming(region.center, 9), budget=Budget(timeout=0.3))
    res = count(model, Region.hamming(region.center, 9), engine="enum", timeout=0.3)
    assert res.status == "unknown" and "timeout" in res.reason
    # what the walk settled before the limit: per-class lower bounds, summed
    assert res.per_class_lower is not None and len(res.per_class_lower) == 4
    assert res.settled == sum(res.per_class_lower) < res.total
    assert res.robust in (None, False) and res.exact is False


class _StopAfter(Budget):
    """A budget that runs out at its (n + 1)-th check (deterministic, unlike a clock)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def check(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise LimitReached("stopped by the test")


def _random_bnn(n: int, seed: int) -> BNN:
    rng = np.random.default_rng(seed)
    return BNN.build(
        n,
        [{"weight": rng.choice([-1, 1], size=(64, n))}],
        {"weight": rng.choice([-1, 1], size=(3, 64))},
    )


def test_streamed_counts_stopped_by_a_limit_are_lower_bounds():
    model = _random_bnn(40, 5)
    center = np.random.default_rng(6).choice([-1, 1], size=40).astype(np.int8)
    region = Region.hamming(center, 4)  # 102,091 inputs, streamed ring by ring
    xs = np.array(list(region_points(center, range(40), 4)), dtype=np.int8)
    exact = np.bincount(classify(model, xs), minlength=3)
    with pytest.raises(LimitReached) as info:
        enum_counts(model, region, budget=_StopAfter(3), method="stream")
    lower = info.value.partial
    assert lower is not None and all(0 <= lo <= ex for lo, ex in zip(lower, exact, strict=True))
    assert sum(lower) == 1 + 40 + 780 + 9880  # rings 0-3, classified before the fourth check


def test_walked_counts_stopped_by_a_limit_are_lower_bounds():
    model = _random_bnn(40, 5)
    center = np.random.default_rng(6).choice([-1, 1], size=40).astype(np.int8)
    region = Region.hamming(center, 7)  # 22 million inputs: the walk outlasts one 0.2 s poll
    with pytest.raises(LimitReached) as info:
        subtree_counts(model, region, budget=_StopAfter(1))  # past the root
    lower = info.value.partial
    exact = subtree_counts(model, region)  # equal to brute force: the tests above
    assert lower is not None and all(0 <= lo <= ex for lo, ex in zip(lower, exact, strict=True))
    assert sum(lower) < region.size


def test_auto_method_choice():
    model = _wide_margin_model(100)
    u = np.ones(100, dtype=np.int8)
    assert not uses_subtree(model, Region.hamming(u, 1))
    assert uses_subtree(model, Region.hamming(u, 5))
    assert not uses_subtree(model, Region.hamming(u, 50))  # counts past int64
    subtree_counts(model, Region.hamming(u, 1))  # numba loaded: the walk from 10^4 inputs
    assert uses_subtree(model, Region.hamming(u, 3)) and not uses_subtree(
        model, Region.hamming(u, 2)
    )
    with pytest.raises(ValueError):
        enum_counts(model, Region.hamming(u, 1), method="magic")
