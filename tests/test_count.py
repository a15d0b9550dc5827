"""BDD counts and verdicts equal brute-force enumeration on random small BNNs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from bdd4bnn import Region, count, verify
from bdd4bnn.encoders.bdd import available_backends

from .conftest import bnn_and_region, make_region, oracle_classify, oracle_counts


@settings(max_examples=150, deadline=None)
@given(bnn_and_region(max_inputs=12))
def test_counts_equal_brute_force(case):
    model, center, free, radius, kind = case
    region = make_region(center, free, radius, kind)
    res = count(model, region, engine="bdd")
    want = oracle_counts(model, center, free, radius)
    assert res.status == "ok"
    assert res.per_class == want
    assert sum(res.per_class) == res.total == region.size
    label = oracle_classify(model, center)
    assert res.label == label
    assert res.adversarial == region.size - want[label]
    assert res.robust == (res.adversarial == 0)


@settings(max_examples=100, deadline=None)
@given(bnn_and_region(max_inputs=10))
def test_verify_agrees_and_counterexample_is_real(case):
    model, center, free, radius, kind = case
    region = make_region(center, free, radius, kind)
    want = oracle_counts(model, center, free, radius)
    label = oracle_classify(model, center)
    for samples in (0, 16):  # pure BDD, then sampling falsifier first
        res = verify(model, region, samples=samples, engine="bdd")
        assert res.robust == (sum(want) == want[label])
        if not res.robust:
            x = np.array(res.counterexample)
            assert region.contains(x)[0]
            assert oracle_classify(model, x) == res.counterexample_class != label
            assert res.found_by == ("bdd" if samples == 0 else res.found_by)


@settings(max_examples=60, deadline=None)
@given(bnn_and_region(max_inputs=9))
def test_targeted_counts(case):
    model, center, free, radius, kind = case
    region = make_region(center, free, radius, kind)
    want = oracle_counts(model, center, free, radius)
    label = oracle_classify(model, center)
    targets = [c for c in range(model.num_classes) if c % 2 == 1]
    res = count(model, region, targets=targets, engine="bdd")
    assert res.adversarial == sum(want[c] for c in targets if c != label)
    v = verify(model, region, targets=targets, samples=0, engine="bdd")
    assert v.robust == (res.adversarial == 0)
    if not v.robust:
        assert v.counterexample_class in targets


@pytest.mark.parametrize("backend", available_backends())
def test_backends_agree(backend):
    from .conftest import bnns  # noqa: F401  (strategy module import check)

    rng = np.random.default_rng(3)
    from bdd4bnn.model import BNN

    model = BNN.build(
        9,
        [
            {"weight": rng.choice([-1, 1], (5, 9)), "bias": rng.normal(size=5)},
            {"weight": rng.choice([-1, 1], (4, 5)), "bias": [0.5, -0.5, 0.0, 1.0]},
        ],
        {"weight": rng.choice([-1, 1], (3, 4)), "bias": [0.0, 0.0, 0.5]},
    )
    center = rng.choice([-1, 1], 9)
    res = count(model, Region.hamming(center, 4), backend=backend)
    assert res.per_class == oracle_counts(model, center, list(range(9)), 4)


def test_limits_give_unknown_not_a_hang():
    rng = np.random.default_rng(0)
    from bdd4bnn.model import BNN

    model = BNN.build(
        60,
        [
            {"weight": rng.choice([-1, 1], (30, 60)), "bias": np.zeros(30)},
            {"weight": rng.choice([-1, 1], (20, 30)), "bias": np.zeros(20)},
        ],
        {"weight": rng.choice([-1, 1], (10, 20))},
    )
    region = Region.hamming(rng.choice([-1, 1], 60), 12)
    res = count(model, region, max_nodes=2000)
    assert res.status == "unknown" and "node limit" in res.reason
    res = count(model, region, timeout=0.05)
    assert res.status == "unknown" and "timeout" in res.reason
    v = verify(model, region, timeout=0.05, samples=0)
    assert v.status == "unknown" and v.robust is None


def test_region_sampling_is_uniform_and_inside():
    center = np.array([1, -1, 1, 1, -1, -1])
    region = Region.fixed(center, [0, 2, 3, 5], 2)
    xs = region.sample(11000, seed=5)
    assert region.contains(xs).all()
    keys = [tuple(x) for x in xs]
    counts = np.array([keys.count(tuple(p)) for p in np.concatenate(list(region.iter_points()))])
    assert len(counts) == region.size == 11
    # each of the 11 points expected 1000 times; 5 sigma is about 150
    assert counts.min() > 850 and counts.max() < 1150
