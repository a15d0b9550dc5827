"""Neurons and classes as Cards agree with inference on every input (boundaries included)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn.encoders.constraints import Card, class_constraints, neuron_constraint
from bdd4bnn.model import BNN
from bdd4bnn.semantics import block_forward, output_predict

from .conftest import bnns


def all_inputs(n):
    return np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8)


@settings(max_examples=150, deadline=None)
@given(bnns(max_inputs=9, max_blocks=1))
def test_neuron_constraints_agree_with_inference(model):
    x = all_inputs(model.input_size)
    block = model.blocks[0]
    h = block_forward(block, x)
    for j in range(block.out_size):
        assert (neuron_constraint(block, j).holds(x) == (h[:, j] > 0)).all()


@settings(max_examples=150, deadline=None)
@given(bnns(max_inputs=3, max_blocks=1, max_width=7))
def test_class_constraints_agree_with_inference(model):
    h = all_inputs(model.blocks[-1].out_size)
    pred = output_predict(model.output, h)
    for c in range(model.num_classes):
        ok = np.ones(len(h), dtype=bool)
        for card in class_constraints(model.output, c):
            ok &= card.holds(h)
        assert (ok == (pred == c)).all()


def test_threshold_exactly_on_integer_boundary_both_signs():
    # z = gamma * (a - 1) / 1 + 0: fires iff a >= 1 (gamma > 0) or a <= 1 (gamma < 0).
    for gamma in (1.0, -1.0):
        model = BNN.build(
            4,
            [
                {
                    "weight": [[1, 1, 1, -1]],
                    "bias": [0.0],
                    "bn": {
                        "gamma": [gamma],
                        "beta": [0.0],
                        "mean": [1.0],
                        "var": [1.0],
                        "eps": 0.0,
                    },
                }
            ],
            {"weight": [[1], [-1]]},
        )
        x = all_inputs(4)
        a = x @ np.array([1, 1, 1, -1])
        card = neuron_constraint(model.blocks[0], 0)
        want = a >= 1 if gamma > 0 else a <= 1
        assert (card.holds(x) == want).all()


def test_card_fold_and_negate():
    c = Card((0, 1, 2), (True, False, True), 2)
    x = all_inputs(3)
    assert (c.negate().holds(x) == ~c.holds(x)).all()
    known = np.array([1, 0, 0], dtype=np.int8)  # x0 = +1 is a true literal
    f = c.fold(known)
    assert f == Card((1, 2), (False, True), 1)
    assert Card((0,), (True,), 0).normalized() == Card.const(True)
    assert Card((0,), (True,), 2).is_false


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.booleans()), max_size=8),
            st.integers(-1, 9),
            st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n),
            st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n),
            st.integers(0, n),
        )
    )
)
def test_fold_and_literal_range_against_brute_force(case):
    """A Card (a multiset of literals) folded with known inputs holds exactly where the Card
    does; a region's literal-count range (a neuron's Card: each pixel once) is the min and
    max over its inputs."""
    from bdd4bnn.region import Region

    n, lits, k, known, center, radius = case
    card = Card(tuple(i for i, _ in lits), tuple(p for _, p in lits), k)
    known = np.array(known, dtype=np.int8)
    folded = card.fold(known)
    x = all_inputs(n)
    agree = ((x == known) | (known == 0)).all(axis=1)
    assert (folded.holds(x[agree]) == card.holds(x[agree])).all()
    free = [i for i in range(n) if known[i] == 0]
    region = Region.fixed(np.array(center), free, min(radius, len(free)))
    points = np.concatenate(list(region.iter_points()))
    once = dict(lits)  # each pixel's last literal
    idx, pos = tuple(once), tuple(once.values())
    true = (points[:, list(idx)] == np.where(pos, 1, -1)).sum(axis=1)
    assert region.literal_range(idx, pos) == (int(true.min()), int(true.max()))
