"""SAT, enumeration and approximate engines, radius and engine choice, against brute force."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings

from bdd4bnn import Region
from bdd4bnn.analyses import count, radius, verify
from bdd4bnn.engines.approx.counter import class_cnf
from bdd4bnn.model import BNN

from .conftest import (
    bnn_and_region,
    bnns,
    make_region,
    oracle_classify,
    oracle_counts,
    region_points,
)


@settings(max_examples=120, deadline=None)
@given(bnn_and_region(max_inputs=10))
def test_sat_bdd_enum_verdicts_agree_with_brute_force(case):
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    want = oracle_counts(model, center, free, r)
    label = oracle_classify(model, center)
    robust = sum(want) == want[label]
    for engine in ("sat", "bdd", "enum"):
        res = verify(model, region, engine=engine, samples=0)
        assert res.robust == robust, engine
        if not robust:
            x = np.array(res.counterexample)
            assert res.found_by == engine
            assert region.contains(x)[0]
            assert oracle_classify(model, x) == res.counterexample_class != label


@settings(max_examples=80, deadline=None)
@given(bnn_and_region(max_inputs=10))
def test_enumeration_counts_equal_bdd_and_brute_force(case):
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    want = oracle_counts(model, center, free, r)
    targets = [0, model.num_classes - 1]
    e = count(model, region, engine="enum", targets=targets)
    b = count(model, region, engine="bdd", targets=targets)
    assert e.per_class == b.per_class == want
    label = oracle_classify(model, center)
    assert e.adversarial == b.adversarial == sum(want[c] for c in set(targets) - {label})


@settings(max_examples=60, deadline=None)
@given(bnn_and_region(max_inputs=8))
def test_targeted_sat_verdicts(case):
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    want = oracle_counts(model, center, free, r)
    label = oracle_classify(model, center)
    for c in range(model.num_classes):
        res = verify(model, region, engine="sat", targets=[c], samples=0)
        assert res.robust == (c == label or want[c] == 0)
        if not res.robust:
            assert res.counterexample_class == c


def brute_radius(model, center, epsilon=0.0):
    n = len(center)
    label = oracle_classify(model, center)
    inside = total = 0
    for r in range(n + 1):
        ring = [
            x
            for x in region_points(center, list(range(n)), r)
            if sum(a != b for a, b in zip(x, center, strict=True)) == r
        ]
        inside += sum(oracle_classify(model, x) == label for x in ring)
        total += len(ring)
        if inside < (1 - epsilon) * total - 1e-12:
            return r - 1
    return n


@settings(max_examples=60, deadline=None)
@given(bnns(max_inputs=8))
def test_radius_equals_brute_force(model):
    center = np.array([(-1) ** (i // 2) for i in range(model.input_size)])
    want = brute_radius(model, center)
    for engine in ("auto", "sat", "enum", "bdd"):
        res = radius(model, Region.everything(center), engine=engine)
        assert res.radius == want, engine
        assert res.max_reached == (want == model.input_size)
        if not res.max_reached:
            x = np.array(res.counterexample)
            assert np.sum(x != center) == want + 1
            assert oracle_classify(model, x) != res.label


@settings(max_examples=40, deadline=None)
@given(bnns(max_inputs=7))
def test_radius_with_epsilon_equals_brute_force(model):
    center = np.array([1 if i % 3 else -1 for i in range(model.input_size)])
    for eps in (0.1, 0.3):
        want = brute_radius(model, center, eps)
        for engine in ("enum", "bdd"):
            assert (
                radius(model, Region.everything(center), epsilon=eps, engine=engine).radius == want
            )


@pytest.mark.parametrize("engine", ["enum", "bdd"])
def test_epsilon_is_the_decimal_written(engine):
    """7 of the 10 inputs of the radius-1 ball keep the label: a share of exactly 1 − 0.3
    passes ε = 0.3 (the double 0.3 is just below 3/10), and fails ε = 0.29."""
    weight = [[1, 1, 1] + [0] * 6]
    model = BNN.build(9, [{"weight": weight, "bias": [-2.5]}], {"weight": [[1], [-1]]})
    ball = Region.hamming(np.ones(9, dtype=int), 9)
    res = radius(model, ball, epsilon=0.3, engine=engine)
    assert (res.radius, res.shares[1]) == (1, 0.7)
    assert radius(model, ball, epsilon=0.29, engine=engine).radius == 0


def test_radius_max_bound():
    model = BNN.build(6, [{"weight": [[1] * 6], "bias": [100.0]}], {"weight": [[1], [-1]]})
    res = radius(model, Region.hamming(np.ones(6, dtype=int), 3))
    assert res.radius == 3 and res.max_reached  # constant model: never fails


def test_approx_within_tolerance_in_most_seeds():
    rng = np.random.default_rng(7)
    model = BNN.build(
        14,
        [{"weight": rng.choice([-1, 1], (6, 14)), "bias": rng.normal(size=6)}],
        {"weight": rng.choice([-1, 1], (3, 6)), "bias": [0.0, 0.0, 0.0]},
    )
    center = rng.choice([-1, 1], 14)
    region = Region.hamming(center, 14)  # all 16384 inputs
    exact = count(model, region, engine="bdd").per_class
    eps, hits, trials = 0.8, 0, 0
    for seed in range(1, 6):
        est = count(model, region, engine="approx", approx_epsilon=eps, seed=seed)
        assert not est.exact and est.epsilon == eps
        for e, x in zip(est.per_class, exact, strict=True):
            trials += 1
            hits += (x / (1 + eps) <= e <= x * (1 + eps)) if x else e == 0
    # ApproxMC promises >= 1 - delta = 0.8 per estimate; observed: 90 of 90 over seeds 1-30.
    assert hits / trials >= 0.8


def test_approx_honours_the_timeout():
    """ApproxMC checks no budget: it runs in a child process killed at the deadline (this
    region takes it minutes)."""
    rng = np.random.default_rng(5)
    n = 120
    model = BNN.build(
        n, [{"weight": rng.choice([-1, 1], (40, n))}], {"weight": rng.choice([-1, 1], (4, 40))}
    )
    region = Region.hamming(rng.choice([-1, 1], n), 30)
    t = time.perf_counter()
    res = count(model, region, engine="approx", timeout=0.5)
    assert res.status == "unknown" and "timeout" in res.reason
    assert time.perf_counter() - t < 10


def test_approx_counts_pixels_in_no_clause():
    """A constant model: no free pixel occurs in any model clause (the pyapproxmc pitfall)."""
    model = BNN.build(12, [{"weight": [[1] * 12], "bias": [50.0]}], {"weight": [[1], [-1]]})
    region = Region.fixed(np.ones(12, dtype=int), [0, 3, 4, 7, 9])
    clauses, projection = class_cnf(model, region, 0)
    used = {abs(lit) for cl in clauses for lit in cl}
    assert set(projection) <= used
    res = count(model, region, engine="approx")
    assert res.per_class == [32, 0]


def test_auto_reports_engine_and_reason():
    rng = np.random.default_rng(1)
    model = BNN.build(
        30, [{"weight": rng.choice([-1, 1], (8, 30))}], {"weight": rng.choice([-1, 1], (3, 8))}
    )
    center = rng.choice([-1, 1], 30)
    small = count(model, Region.hamming(center, 2))
    assert small.engine == "enum" and "estimated" in small.engine_reason
    v = verify(model, Region.hamming(center, 12), samples=0)
    assert v.engine == "sat" and v.engine_reason


def test_automatic_count_past_the_bdd_ceiling_walks_exactly(monkeypatch):
    from bdd4bnn.engines import choose

    rng = np.random.default_rng(4)
    model = BNN.build(
        12,
        [{"weight": rng.choice([-1, 1], (10, 12))}, {"weight": rng.choice([-1, 1], (6, 10))}],
        {"weight": rng.choice([-1, 1], (3, 6))},
    )
    center = rng.choice([-1, 1], 12)
    monkeypatch.setattr(choose, "ENUM_SECONDS_MAX", 0.0)  # as if the region were huge
    monkeypatch.setattr(choose, "BDD_NODE_CEILING", 1)  # and its BDDs too large
    res = count(model, Region.hamming(center, 5))
    assert res.engine == "enum" and "subtree walk" in res.engine_reason
    assert res.exact and res.per_class == oracle_counts(model, center, range(12), 5)
    # a node limit the user set is theirs: no fallback
    mine = count(model, Region.hamming(center, 5), max_nodes=1)
    assert mine.status == "unknown" and mine.engine == "bdd"


def test_sat_and_enum_limits_give_unknown():
    rng = np.random.default_rng(0)
    model = BNN.build(
        200,
        [{"weight": rng.choice([-1, 1], (40, 200))}, {"weight": rng.choice([-1, 1], (30, 40))}],
        {"weight": rng.choice([-1, 1], (10, 30))},
    )
    center = rng.choice([-1, 1], 200)
    res = count(model, Region.hamming(center, 4), engine="enum", timeout=0.01)
    assert res.status == "unknown" and "timeout" in res.reason
    res = radius(model, Region.hamming(center, 4), engine="enum", timeout=0.01)
    assert res.status in ("unknown", "ok")  # may finish if ring 1 already fails
    assert math.comb(200, 4) > 10**7


@pytest.mark.parametrize("engine", ["sat", "enum", "bdd"])
def test_radius_on_bnnquanalyst_a5(engine):
    from bdd4bnn import load_input, load_model

    from .conftest import need_shared

    model = load_model(need_shared("peers", "bnnquanalyst", "models", "mnist_bnn_1_blk_100_100_10"))
    u = load_input(need_shared("peers", "bnnquanalyst", "inputs", "instance_1_100.txt"), 100)
    assert radius(model, Region.everything(u), engine=engine).radius == 1


def test_sat_timeout_covers_encoding():
    rng = np.random.default_rng(5)
    model = BNN.build(
        400, [{"weight": rng.choice([-1, 1], (60, 400))}], {"weight": rng.choice([-1, 1], (10, 60))}
    )
    center = rng.choice([-1, 1], 400)
    res = verify(model, Region.hamming(center, 60), engine="sat", samples=0, timeout=0.05)
    assert res.status == "unknown" and "timeout" in res.reason


def test_sat_timeout_path_solves_when_time_suffices():
    """The interruptible solve (used whenever --timeout is set) gives the same verdicts."""
    rng = np.random.default_rng(6)
    model = BNN.build(
        12, [{"weight": rng.choice([-1, 1], (6, 12))}], {"weight": rng.choice([-1, 1], (3, 6))}
    )
    center = rng.choice([-1, 1], 12)
    for r in range(0, 5):
        region = Region.hamming(center, r)
        a = verify(model, region, engine="sat", samples=0, timeout=60)
        b = verify(model, region, engine="enum", samples=0)
        assert a.status == "ok" and a.robust == b.robust


@settings(max_examples=60, deadline=None)
@given(bnn_and_region(max_inputs=10))
def test_enumeration_fast_path_equals_brute_force(case):
    """The int8 path (used once torch is loaded, from 1,000 inputs) forced on small ones."""
    pytest.importorskip("torch")
    from bdd4bnn.engines.enum import stream as enumeration

    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    saved = enumeration.TORCH_FROM
    enumeration.TORCH_FROM = -1
    try:
        got = count(model, region, engine="enum").per_class
        label = oracle_classify(model, center)
        others = [c for c in range(model.num_classes) if c != label]
        x = enumeration.enum_find(model, region, others)
    finally:
        enumeration.TORCH_FROM = saved
    want = oracle_counts(model, center, free, r)
    assert got == want
    assert (x is None) == (sum(want) == want[label])
    if x is not None:
        assert region.contains(x)[0] and oracle_classify(model, x) != label


@settings(max_examples=30, deadline=None)
@given(bnns(max_inputs=8))
def test_radius_without_bdd_slices_equals_brute_force(model):
    """With no time for the BDD ball proofs, auto falls back to SAT rings: same radius."""
    from bdd4bnn.engines import choose

    center = np.array([(-1) ** (i // 3) for i in range(model.input_size)])
    saved = choose.RADIUS_BDD_SLICE, choose.RING_ENUM_SECONDS
    choose.RADIUS_BDD_SLICE, choose.RING_ENUM_SECONDS = 1e-9, -1.0
    try:
        res = radius(model, Region.everything(center))
    finally:
        choose.RADIUS_BDD_SLICE, choose.RING_ENUM_SECONDS = saved
    assert res.radius == brute_radius(model, center)


@settings(max_examples=40, deadline=None)
@given(bnn_and_region(max_inputs=9))
def test_beam_attack_is_sound(case):
    from bdd4bnn.analyses.attack import beam_attack

    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    label = oracle_classify(model, center)
    hit = beam_attack(model, region, label, beam=4)
    if hit is not None:
        d, x = hit
        assert region.contains(x)[0] and int(np.sum(x != center)) == d
        assert oracle_classify(model, x) != label  # sound (a beam may miss; never lies)
