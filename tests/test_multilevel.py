"""Multi-level networks (ternary / 2-bit weights and activations, multi-level inputs) against
an independent oracle: the issue's MultiThreshold semantics in scalar Python, over raw images.

Every engine of the registry (and both BDD constructions and the subtree walk) answers on the
thermometer form; the oracle never looks at it.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bdd4bnn import thermometer
from bdd4bnn.analyses import count_linf
from bdd4bnn.engines import REGISTRY, Capability, Options
from bdd4bnn.engines.enum.subtree import subtree_counts
from bdd4bnn.errors import EngineError, ModelError, RegionError
from bdd4bnn.formats import model_from_dict, model_to_dict
from bdd4bnn.limits import Budget
from bdd4bnn.linf import linf_ball
from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify
from bdd4bnn.thermometer import unfold

LEVELS = [(-1, 1), (-1, 0, 1), (-2, -1, 0, 1), (0, 1, 2, 3), (-3, -1, 1, 3)]
WEIGHTS = [(-1, 1), (-1, 0, 1), (-2, -1, 0, 1)]


def oracle(model: BNN, raw) -> int:
    """Classify one raw input by the issue's semantics, written independently of bdd4bnn."""
    q = model.quantizer
    levels = model.input_levels
    th = np.asarray(q.threshold).reshape(model.input_size, -1)
    h = [levels[sum(1 for t in th[i] if r >= t)] for i, r in enumerate(raw)]
    for block in model.blocks:
        nxt = []
        for j in range(block.out_size):
            dot = sum(int(w) * v for w, v in zip(block.weight[j], h, strict=True))
            if block.thresholds is not None:
                nxt.append(block.levels[sum(1 for t in block.thresholds[j] if dot >= t)])
                continue
            a = float(dot) + float(block.bias[j])
            if block.bn is not None:
                bn = block.bn
                a = float(bn.gamma[j]) * (a - float(bn.mean[j])) / math.sqrt(
                    float(bn.var[j]) + bn.eps
                ) + float(bn.beta[j])
            nxt.append(1 if a >= 0 else -1)
        h = nxt
    scores = [
        Fraction(sum(int(w) * v for w, v in zip(row, h, strict=True))) + Fraction(float(b))
        for row, b in zip(model.output.weight, model.output.bias, strict=True)
    ]
    return scores.index(max(scores))


@st.composite
def nets(
    draw,
    max_inputs: int = 4,
    max_blocks: int = 2,
    max_width: int = 3,
    gaps: tuple[int, int] = (20, 20),
) -> BNN:
    """Draw a small multi-level network with a uint8 input quantizer: input levels 2–4, blocks
    with 2–4 levels (thresholds) or sign blocks with batch norm, binary/ternary/2-bit weights."""
    u = draw(st.sampled_from(LEVELS))
    wr = draw(st.sampled_from(WEIGHTS))
    n = draw(st.integers(1, max_inputs))
    sizes = [n] + [draw(st.integers(1, max_width)) for _ in range(draw(st.integers(1, max_blocks)))]
    blocks = []
    for cols, rows in zip(sizes, sizes[1:], strict=False):
        w = [[draw(st.sampled_from(wr)) for _ in range(cols)] for _ in range(rows)]
        if draw(st.integers(0, 3)) == 0:
            pick = st.sampled_from
            blocks.append(
                {
                    "weight": w,
                    "bias": [draw(pick([0.0, 0.5, -1.0, 2.0])) for _ in range(rows)],
                    "bn": {
                        "gamma": [draw(pick([1.0, -1.0, 0.0, 2.5])) for _ in range(rows)],
                        "beta": [draw(pick([0.0, 1.0, -0.25])) for _ in range(rows)],
                        "mean": [draw(pick([0.0, 1.0, -2.0, 0.5])) for _ in range(rows)],
                        "var": [draw(pick([1.0, 4.0, 0.25])) for _ in range(rows)],
                    },
                }
            )
            continue
        lv = draw(st.sampled_from(LEVELS))
        th = [sorted(draw(st.integers(-5, 5)) for _ in range(len(lv) - 1)) for _ in range(rows)]
        blocks.append({"weight": w, "levels": list(lv), "thresholds": th})
    classes = draw(st.integers(2, 4))
    out = {
        "weight": [[draw(st.sampled_from(wr)) for _ in range(sizes[-1])] for _ in range(classes)],
        "bias": [draw(st.sampled_from([0.0, 1.0, -2.0, 0.5])) for _ in range(classes)],
    }
    base = [draw(st.integers(10, 60)) for _ in range(n)]
    quantizer = {
        "raw": "uint8",
        "threshold": [
            np.cumsum([b] + [draw(st.integers(*gaps)) for _ in range(len(u) - 2)]).tolist()
            for b in base
        ],
    }
    if len(u) == 2:
        quantizer["threshold"] = base
    try:
        model = BNN.build(n, blocks, out, quantizer=quantizer, input_levels=list(u))
    except ModelError:  # only binary parts and wide weights: not a multi-level network
        assume(False)
        raise
    assume(not model.is_binary)
    return model


def _balls(draw, model: BNN):
    th = model.quantizer.steps
    raw = [
        int(th[i, draw(st.integers(0, th.shape[1] - 1))]) + draw(st.integers(-3, 2))
        for i in range(model.input_size)
    ]
    eps = draw(st.integers(0, 3))
    return np.asarray(raw), eps


def _oracle_counts(model: BNN, raw, eps):
    """Per class: level patterns and raw images of the ball, by enumerating raw images."""
    ranges = [range(max(0, int(r) - eps), min(255, int(r) + eps) + 1) for r in raw]
    images = [0] * model.num_classes
    patterns: dict[tuple, int] = {}
    for x in itertools.product(*ranges):
        c = oracle(model, x)
        images[c] += 1
        patterns[tuple(model.quantizer.quantize(np.asarray(x))[0])] = c
    per_class = [0] * model.num_classes
    for c in patterns.values():
        per_class[c] += 1
    return per_class, images


@settings(max_examples=150, deadline=None)
@given(model=nets(max_inputs=4, max_blocks=3), data=st.data())
def test_thermometer_form_agrees_on_every_input(model, data):
    form = unfold(model)
    assert form.model.is_binary and not model.is_binary
    xs = np.array(list(itertools.product(model.input_levels, repeat=model.input_size)))
    bits = form.to_bits(xs)
    assert np.array_equal(form.to_levels(bits), xs)
    assert np.array_equal(classify(form.model, bits), classify(model, xs))
    raw = [
        int(v)
        for v in data.draw(
            st.lists(st.integers(0, 255), min_size=model.input_size, max_size=model.input_size)
        )
    ]
    assert classify(model, model.quantizer.quantize(raw))[0] == oracle(model, raw)


CASES = [
    ("bdd", Options(method="topdown")),
    ("bdd", Options(method="compose")),
    ("sat", Options()),
    ("enum", Options()),
    ("approx", Options()),
]


@pytest.mark.parametrize("name,options", CASES, ids=["topdown", "compose", "sat", "enum", "approx"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=nets(), data=st.data())
def test_every_engine_on_linf_balls(name, options, model, data):
    raw, eps = _balls(data.draw, model)
    try:
        ball = linf_ball(model, raw, eps)
    except RegionError:  # a pixel reaching three levels: refused (tested below)
        assume(False)
    per_class, images = _oracle_counts(model, raw, eps)
    label = oracle(model, raw)
    assert ball.total_images == sum(images)
    engine = REGISTRY[name]
    region = ball.region
    with engine.prepare(ball.model, region, Budget(), options) as prepared:
        if engine.can(Capability.COUNT, Capability.EXACT):
            assert prepared.counts() == per_class
        if engine.can(Capability.CLASS_FUNCTION):
            f = prepared.class_function(label)
            assert prepared.mgr.count(f) >> (region.n - len(region.free)) == per_class[label]
        if engine.can(Capability.FIND):
            others = [c for c in range(model.num_classes) if c != label]
            x = prepared.find(None, others)
            assert (x is None) == (sum(per_class) == per_class[label])
            if x is not None:
                assert oracle(model, ball.raw_witness(x)) in others
        elif not engine.can(Capability.EXACT):
            assert sum(prepared.counts()) > 0
        else:  # pragma: no cover - every exact engine finds
            with pytest.raises(EngineError):
                prepared.find(None, [0])


@settings(max_examples=40, deadline=None)
@given(model=nets(), data=st.data())
def test_count_linf_images_and_subtree_walk(model, data):
    raw, eps = _balls(data.draw, model)
    try:
        ball = linf_ball(model, raw, eps)
    except RegionError:
        assume(False)
    per_class, images = _oracle_counts(model, raw, eps)
    res = count_linf(model, ball, engine="enum")
    assert res.per_class == per_class and res.per_class_images == images
    assert subtree_counts(ball.model, ball.region) == per_class


def test_a_pixel_reaching_three_levels_is_refused():
    model = BNN.build(
        1,
        [{"weight": [[1]], "levels": [-1, 0, 1], "thresholds": [[0, 1]]}],
        {"weight": [[1], [-1]]},
        quantizer={"raw": "uint8", "threshold": [100, 104]},
        input_levels=[-1, 0, 1],
    )
    assert linf_ball(model, [102], 1).region.free == ()
    with pytest.raises(RegionError, match="reaches 3 levels"):
        linf_ball(model, [102], 3)
    ball = linf_ball(model, [102], 3, split=True)  # [99, 105]: levels -1 | 0, 1
    assert len(ball.parts) == 2 and ball.size == 3 and ball.total_images == 7


@settings(max_examples=60, deadline=None)
@given(model=nets(max_inputs=3, gaps=(1, 4)), data=st.data())
def test_split_balls_count_and_verify_like_the_oracle(model, data):
    """Pixels reaching three or more levels: the ball as disjoint boxes of two levels per
    pixel, counted and verified box by box, against raw-image enumeration."""
    from bdd4bnn.analyses import verify_linf

    raw, eps = _balls(data.draw, model)
    eps = data.draw(st.integers(eps, 6))
    ball = linf_ball(model, raw, eps, split=True)
    per_class, images = _oracle_counts(model, raw, eps)
    label = oracle(model, raw)
    res = count_linf(model, ball, engine=data.draw(st.sampled_from(["enum", "bdd"])))
    assert res.label == label and res.total == sum(per_class)
    assert res.per_class == per_class and res.per_class_images == images
    assert res.adversarial_images == sum(images) - images[label]
    v = verify_linf(model, ball, engine=data.draw(st.sampled_from(["sat", "enum", "bdd"])))
    assert v.robust == (per_class[label] == sum(per_class))
    if not v.robust:
        x = np.asarray(v.raw_counterexample)
        assert (np.abs(x - raw) <= eps).all() and (x >= 0).all() and (x <= 255).all()
        assert oracle(model, x) == v.counterexample_class != label


def test_an_off_by_one_threshold_is_caught(monkeypatch):
    """Mutation check: the agreement test fails when unfold shifts a threshold by one."""
    real = thermometer.level_steps

    def shifted(block, j, dots):
        return [(d, t + 1 if d > 0 else t) for d, t in real(block, j, dots)]

    monkeypatch.setattr(thermometer, "level_steps", shifted)
    with pytest.raises(AssertionError):
        test_thermometer_form_agrees_on_every_input()


def test_json_round_trip_and_bad_levels():
    model = BNN.build(
        2,
        [
            {
                "weight": [[1, -2], [0, 1]],
                "levels": [0, 1, 2, 3],
                "thresholds": [[-1, 0, 2], [0, 0, 1]],
            }
        ],
        {"weight": [[1, -1], [-1, 1]], "bias": [0.5, 0]},
        input_levels=[-1, 0, 1],
    )
    doc = model_to_dict(model)
    assert doc["version"] == 2 and doc["input_levels"] == [-1, 0, 1]
    back = model_from_dict(doc)
    xs = np.array(list(itertools.product((-1, 0, 1), repeat=2)))
    assert np.array_equal(classify(back, xs), classify(model, xs))
    bad = [
        ({"levels": [1, 0], "thresholds": [[0], [0]]}, "levels must increase"),
        ({"levels": list(range(17)), "thresholds": [[0] * 16] * 2}, "2..16 levels"),
        ({"levels": [0, 1, 2], "thresholds": [[1, 0], [0, 0]]}, "must be sorted"),
        ({"levels": [0, 1, 2], "thresholds": [[0.5, 1], [0, 0]]}, "expected an integer"),
        ({"levels": [0, 1, 2], "thresholds": [[0, 1]]}, "expected shape"),
        ({"levels": [0, 1], "thresholds": [[0], [0]], "bias": [1, 1]}, "has no bias"),
    ]
    for block, message in bad:
        d = dict(doc, blocks=[dict({"weight": [[1, -2], [0, 1]]}, **block)])
        with pytest.raises(ModelError, match=message):
            model_from_dict(d)
    with pytest.raises(ModelError, match="need version 2"):
        model_from_dict(dict(doc, version=1))
    with pytest.raises(EngineError, match="multi-level"):
        REGISTRY["enum"].prepare(model, None, Budget())


@settings(max_examples=60, deadline=None)
@given(model=nets(max_inputs=12, max_blocks=3, max_width=12), seed=st.integers(0, 2**32 - 1))
def test_every_cpu_path_equals_the_reference(model, seed):
    """int8 reads the network as it is; float32 and packed read its thermometer form."""
    from bdd4bnn.kernels import predict

    rng = np.random.default_rng(seed)
    x = rng.choice(model.input_levels, (50, model.input_size)).astype(np.int8)
    ref = classify(model, x)
    for path in ("int8", "float32", "packed", "auto"):
        assert (predict(model, x, path) == ref).all(), path


TRITON_LEVELS = """
import numpy as np
from bdd4bnn.model import BNN
from bdd4bnn.kernels import predict
from bdd4bnn.semantics import classify
rng = np.random.default_rng(1)
for n, widths, lv in [(70, [9, 5], [-1, 0, 1]), (20, [6], [0, 1, 2, 3])]:
    sizes = [n] + widths
    blocks = [{"weight": rng.choice([-2, -1, 0, 1], (b, a)), "levels": lv,
               "thresholds": np.sort(rng.integers(-8, 9, (b, len(lv) - 1)), axis=1)}
              for a, b in zip(sizes, sizes[1:])]
    m = BNN.build(n, blocks, {"weight": rng.choice([-1, 1], (4, sizes[-1]))}, input_levels=lv)
    x = rng.choice(lv, (37, n)).astype(np.int8)
    assert (predict(m, x, "triton") == classify(m, x)).all(), n
print("ok")
"""


def test_triton_reads_the_thermometer_form_under_the_interpreter():
    from .test_kernels import _python, have_triton

    if not have_triton():
        pytest.skip("triton not installed")
    proc = _python(TRITON_LEVELS, TRITON_INTERPRET="1")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(model=nets(max_inputs=4), data=st.data())
def test_crosscheck_reads_the_network_itself(model, data):
    """crosscheck on an L∞ ball: engines count the thermometer form, the concrete pass
    classifies the multi-level network on the level patterns; a wrong form is caught."""
    from bdd4bnn.analyses import crosscheck

    raw, eps = _balls(data.draw, model)
    try:
        ball = linf_ball(model, raw, eps)
    except RegionError:
        assume(False)
    res = crosscheck(ball.model, ball.region, exhaustive=True, path="int8", source=model)
    assert res.consistent and res.observed == _oracle_counts(model, raw, eps)[0]
    real = thermometer.level_steps
    thermometer._FORMS.clear()
    try:
        thermometer.level_steps = lambda b, j, d: [  # noqa: E731
            (s, t + 3 if s > 0 else t) for s, t in real(b, j, d)
        ]
        wrong = thermometer.unfold(model)
    finally:
        thermometer.level_steps = real
        thermometer._FORMS.clear()
    bad = crosscheck(wrong.model, ball.region, exhaustive=True, path="int8", source=model)
    assert bad.consistent == (bad.formal == res.formal)  # a changed count is caught
