"""The reference inference: sign(0) = +1, lowest-index ties, exact scores, batch norm."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify, hidden_forward, output_thresholds

from .conftest import bnns, oracle_classify


def one_block(weight, bias, bn=None, out_w=None, out_b=None):
    spec = {"weight": weight, "bias": bias}
    if bn:
        spec["bn"] = bn
    m = len(weight)
    out_w = out_w or [[1] * m, [-1] * m]
    return BNN.build(len(weight[0]), [spec], {"weight": out_w, "bias": out_b or [0.0, 0.0]})


def test_sign_of_zero_is_plus_one():
    model = one_block([[1, -1]], [0.0])
    # x = (+1, +1): a = 0 -> h = +1
    assert hidden_forward(model, np.array([[1, 1]])).tolist() == [[1]]
    assert hidden_forward(model, np.array([[-1, 1]])).tolist() == [[-1]]


def test_batch_norm_landing_exactly_on_zero_is_plus_one():
    bn = {"gamma": [2.0], "beta": [0.0], "mean": [2.0], "var": [4.0], "eps": 0.0}
    model = one_block([[1, 1, 1, 1]], [0.0], bn)
    x = np.array([[1, 1, 1, -1], [1, 1, -1, -1]])  # a = 2 (z = 0), a = 0 (z = -2)
    assert hidden_forward(model, x).tolist() == [[1], [-1]]


def test_negative_gamma_flips_and_zero_gamma_is_constant():
    neg = {"gamma": [-1.0], "beta": [0.0], "mean": [0.0], "var": [1.0], "eps": 0.0}
    model = one_block([[1, 1]], [0.0], neg)
    assert hidden_forward(model, np.array([[1, 1], [-1, -1], [1, -1]])).ravel().tolist() == [
        -1,
        1,
        1,
    ]  # z = -a: a=2 -> -1, a=-2 -> +1, a=0 -> z=0 -> +1
    for beta, want in ((0.0, 1), (-0.5, -1), (0.5, 1)):
        zero = {"gamma": [0.0], "beta": [beta], "mean": [3.0], "var": [1.0], "eps": 1e-5}
        m = one_block([[1, -1]], [0.0], zero)
        assert set(hidden_forward(m, np.array([[1, 1], [-1, 1], [1, -1]])).ravel()) == {want}


def test_output_ties_go_to_lowest_index():
    # h = +1 always (bias 5); scores equal for both classes -> class 0; then class 1 by bias
    model = one_block([[1, 1]], [5.0], out_w=[[1], [1]], out_b=[0.0, 0.0])
    assert classify(model, np.array([1, 1])) == 0
    model = one_block([[1, 1]], [5.0], out_w=[[1], [1]], out_b=[0.0, 1e-12])
    assert classify(model, np.array([1, 1])) == 1


def test_scores_compared_exactly_not_in_rounded_floats():
    # With b = (0.1, 2.1): s0 - s1 = D - 2.0000000000000000333 exactly; binary64 rounding of
    # (1 + 0.1) and (-1 + 2.1) gives a tie, the exact comparison gives class 1.
    model = one_block([[1, 1]], [5.0], out_w=[[1], [-1]], out_b=[0.1, 2.1])
    h_plus = np.array([1, 1])
    assert 1.0 + 0.1 == -1.0 + 2.1  # the float trap is real
    assert classify(model, h_plus) == 1
    k = output_thresholds(model.output)
    assert k[0, 1] == 3 and k[1, 0] == -2  # D >= ceil(2.00..03) ; D > floor(-2.00..03)


@settings(max_examples=200, deadline=None)
@given(bnns(max_inputs=8), st.data())
def test_reference_inference_equals_independent_oracle(model, data):
    n = model.input_size
    xs = np.array(
        data.draw(
            st.lists(
                st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n), min_size=1, max_size=20
            )
        )
    )
    got = classify(model, xs)
    assert got.tolist() == [oracle_classify(model, x) for x in xs]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_block_forward_in_binary32_equals_integer_dots(rows, width, seed):
    """Wide integer dots near a threshold: binary32 is used only where every sum is exact."""
    from bdd4bnn.model import Block
    from bdd4bnn.semantics import block_forward

    rng = np.random.default_rng(seed)
    w = rng.integers(-15, 16, size=(3, width)).astype(np.int8)
    x = rng.integers(-128, 128, size=(rows, width)).astype(np.int8)
    dots = x.astype(np.int64) @ w.T.astype(np.int64)
    bias = -dots[0].astype(np.float64)  # row 0 lands exactly on zero: sign(0) = +1
    block = Block(w, bias)
    want = np.where(dots + bias >= 0, 1, -1)
    assert (block_forward(block, x) == want).all()
    assert (block_forward(block, x.astype(np.int64)) == want).all()  # the binary64 path


def test_block_forward_keeps_binary64_where_binary32_would_round():
    from bdd4bnn.model import Block
    from bdd4bnn.semantics import block_forward

    width = 10_001  # 127 · 15 · width > 2^24: binary32 sums would round
    w = np.full((2, width), 15, dtype=np.int8)
    w[:, ::7] = 13
    x = np.full((1, width), 127, dtype=np.int8)
    dot = int((x.astype(np.int64) @ w[0].astype(np.int64))[0])
    block = Block(w, np.array([-dot, -dot - 1], dtype=np.float64))
    assert block_forward(block, x).tolist() == [[1, -1]]
