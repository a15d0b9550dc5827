"""Top-down compilation: the same class BDDs as bottom-up composition, and brute-force counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from bdd4bnn import Region, count, load_input, load_model, verify
from bdd4bnn.engines.bdd.compile import compile_region
from bdd4bnn.engines.enum.subtree import subtree_counts
from bdd4bnn.errors import LimitReached
from bdd4bnn.limits import Budget
from bdd4bnn.model import BNN

from .conftest import bnn_and_region, make_region, need_shared, oracle_counts


@settings(max_examples=200, deadline=None)
@given(bnn_and_region(max_inputs=12))
def test_topdown_equals_composition_and_brute_force(case):
    model, center, free, radius, kind = case
    region = make_region(center, free, radius, kind)
    top = compile_region(model, region, method="topdown")
    bottom = compile_region(model, region, method="compose")
    assert (top.method, bottom.method) == ("topdown", "compose")
    want = oracle_counts(model, center, free, radius)
    assert [top.class_count(c) for c in range(model.num_classes)] == want
    for c in range(model.num_classes):  # the same function, node for node
        moved = bottom.engine.bdd.copy(bottom.class_bdd(c), top.engine.bdd)
        assert moved == top.class_bdd(c)


def _wide_model(seed: int = 0) -> tuple[BNN, Region]:
    rng = np.random.default_rng(seed)
    model = BNN.build(
        40,
        [
            {"weight": rng.choice([-1, 1], (20, 40)), "bias": np.zeros(20)},
            {"weight": rng.choice([-1, 1], (10, 20)), "bias": np.zeros(10)},
        ],
        {"weight": rng.choice([-1, 1], (4, 10))},
    )
    return model, Region.hamming(rng.choice([-1, 1], 40), 3)


def test_past_the_tree_cap_it_composes_bottom_up():
    model, region = _wide_model()
    top = compile_region(model, region)
    assert top.method == "topdown" and top.tree_nodes > 10
    small = compile_region(model, region, tree_nodes_max=10)
    assert small.method == "compose" and small.tree_nodes <= 10
    for c in range(model.num_classes):
        assert small.class_count(c) == top.class_count(c)
    assert "composed block by block, top-down gave up" in small.construction()
    assert top.construction() == f"BDDs built top-down, {top.tree_nodes:,} undecided nodes"
    res = count(model, region, engine="bdd")
    assert res.engine_reason == top.construction()
    assert res.per_class == [top.class_count(c) for c in range(model.num_classes)]
    with pytest.raises(LimitReached, match="undecided nodes"):
        compile_region(model, region, method="topdown", tree_nodes_max=10)
    with pytest.raises(ValueError, match="unknown compilation method"):
        compile_region(model, region, method="sideways")


def test_topdown_honours_the_timeout():
    model, region = _wide_model()
    region = Region.hamming(region.center, 20)  # 10^12 inputs, an undecided root
    with pytest.raises(LimitReached, match="timeout"):
        compile_region(model, region, method="topdown", budget=Budget(timeout=0.2))
    res = count(model, region, engine="bdd", timeout=0.2)
    assert res.status == "unknown" and "timeout" in res.reason


def test_a_region_the_bounds_settle_has_no_tree():
    """784 pixels, radius 4 (1.6·10^10 inputs, 18 unstable neurons): decided at the root.
    Independently, SAT finds no input of another class."""
    peers = need_shared("peers", "bnnquanalyst")
    model = load_model(peers / "models" / "mnist_bnn_1_blk_784_100_10")
    center = load_input(peers / "inputs" / "instance_0_784.txt", 784)
    region = Region.hamming(center, 4)
    comp = compile_region(model, region)
    assert comp.method == "topdown" and comp.tree_nodes == 0
    label = verify(model, region, engine="sat", samples=0)
    assert label.robust is True
    assert comp.class_count(label.label) == region.size


@pytest.mark.parametrize(
    "name, instance, radius",
    [
        ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", 3),  # A1
        ("mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", 4),  # A3
    ],
)
def test_bnnquanalyst_queries_equal_the_subtree_walk(name, instance, radius):
    peers = need_shared("peers", "bnnquanalyst")
    model = load_model(peers / "models" / name)
    center = load_input(peers / "inputs" / f"{instance}.txt", model.input_size)
    region = Region.hamming(center, radius)
    comp = compile_region(model, region)
    assert comp.method == "topdown" and comp.tree_nodes < region.size
    got = [comp.class_count(c) for c in range(model.num_classes)]
    assert got == subtree_counts(model, region)


def test_auto_gives_up_on_a_slow_expansion():
    from bdd4bnn.encoders.bdd import BddManager
    from bdd4bnn.encoders.propagate import propagate
    from bdd4bnn.engines.bdd import topdown

    model, region = _wide_model()
    region = Region.hamming(region.center, 20)  # far more than one slice of undecided nodes
    prop = propagate(model, region)
    eng = BddManager(model.input_size)
    stats: dict[str, int] = {}
    got = topdown.compile_classes(
        prop.blocks, prop.classes, prop.known[0], region, eng, Budget(), stats=stats, seconds=0.0
    )
    assert got is None and 0 <= stats["tree_nodes"] <= topdown.SLICE  # stopped after one call
