"""L∞ balls of raw inputs: patterns and raw-image counts against brute force over raw images."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn.analyses.count import count_linf
from bdd4bnn.engines.enum import weighted
from bdd4bnn.errors import InputError, RegionError
from bdd4bnn.linf import linf_ball
from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify

from .conftest import bnns


def _with_quantizer(model: BNN, thresholds) -> BNN:
    return BNN.build(
        model.input_size,
        [{"weight": b.weight, "bias": b.bias} for b in model.blocks],
        {"weight": model.output.weight, "bias": model.output.bias},
        quantizer={"raw": "uint8", "threshold": [int(t) for t in thresholds]},
    )


def _all_raw(raw, eps):
    """Every raw image within eps of raw (clipped to 0..255), as rows."""
    axes = [range(max(0, int(v) - eps), min(255, int(v) + eps) + 1) for v in raw]
    return np.array(list(itertools.product(*axes)), dtype=np.int64)


@settings(max_examples=40, deadline=None)
@given(bnns(max_inputs=5), st.data())
def test_linf_counts_equal_brute_force_over_raw_images(base, data):
    n = base.input_size
    th = data.draw(st.lists(st.sampled_from([0, 1, 3, 128, 250, 255, 256]), min_size=n, max_size=n))
    model = _with_quantizer(base, th)
    raw = np.array(
        data.draw(
            st.lists(
                st.sampled_from([0, 1, 2, 126, 127, 128, 129, 253, 255]), min_size=n, max_size=n
            )
        )
    )
    eps = data.draw(st.integers(0, 4))
    ball = linf_ball(model, raw, eps)
    images = _all_raw(raw, eps)
    xs = model.quantizer.quantize(images)
    cls = classify(model, xs)
    want_images = np.bincount(cls, minlength=model.num_classes).tolist()
    patterns = np.unique(xs, axis=0)
    want_patterns = np.bincount(classify(model, patterns), minlength=model.num_classes).tolist()
    res = count_linf(model, ball)
    assert res.status == "ok" and res.per_class == want_patterns
    assert res.per_class_images == want_images and res.total_images == len(images)
    with patch.object(weighted, "FREE_MAX", -1):  # the weighted count of the class BDDs
        by_bdd = count_linf(model, ball)
    assert "BDDs" in by_bdd.engine_reason and by_bdd.per_class_images == want_images
    label = int(classify(model, model.quantizer.quantize(raw))[0])
    adv = len(images) - want_images[label]
    assert res.adversarial_images == adv
    assert Fraction(res.adversarial_share) == Fraction(adv, len(images))
    for x in patterns:  # every pattern has a raw witness inside the ball
        w = ball.raw_witness(x)
        assert np.abs(w - raw).max() <= eps and (0 <= w).all() and (w <= 255).all()
        assert np.array_equal(model.quantizer.quantize(w)[0], x)


def test_linf_needs_a_quantizer_and_valid_numbers():
    model = BNN.build(3, [{"weight": np.ones((2, 3))}], {"weight": np.ones((2, 2))})
    with pytest.raises(RegionError, match="no input quantizer"):
        linf_ball(model, [0, 0, 0], 1)
    q = _with_quantizer(model, [128, 128, 128])
    for bad in (-1, float("nan"), float("inf"), 1.5, 256, "2", True):
        with pytest.raises(RegionError, match="linf"):
            linf_ball(q, [0, 0, 0], bad)
    with pytest.raises(InputError, match="reads 3"):
        linf_ball(q, [0, 0], 1)
    with pytest.raises(InputError, match="0..255"):
        linf_ball(q, [0, 0, 300], 1)


def test_cli_count_and_verify_linf(tmp_path):
    from .test_cli import run

    rng = np.random.default_rng(2)
    base = BNN.build(
        6,
        [{"weight": rng.choice([-1, 1], (4, 6))}],
        {"weight": rng.choice([-1, 1], (3, 4))},
    )
    model = _with_quantizer(base, [128] * 6)
    from bdd4bnn.formats import save_model

    path = tmp_path / "m.json"
    save_model(model, path)
    raw = np.array([120, 130, 200, 10, 127, 128])
    np.save(tmp_path / "x.npy", raw)
    code, out, _ = run("count", path, "--image", tmp_path / "x.npy", "--linf", 8, "--json")
    doc = json.loads(out)
    images = _all_raw(raw, 8)
    want = np.bincount(classify(model, model.quantizer.quantize(images)), minlength=3).tolist()
    assert doc["per_class_images"] == want and doc["total_images"] == len(images)
    assert doc["region"]["kind"] == "linf" and doc["region"]["free"] == [0, 1, 4, 5]
    code, out, _ = run("verify", path, "--image", tmp_path / "x.npy", "--linf", 8, "--json")
    doc = json.loads(out)
    assert code == (0 if doc["robust"] else 1)
    assert doc["robust"] == (want[doc["label"]] == len(images))
    if not doc["robust"]:
        w = np.array(doc["counterexample_image"])
        assert np.abs(w - raw).max() <= 8
        assert classify(model, model.quantizer.quantize(w))[0] != doc["label"]
    code, _, err = run("count", path, "--input", tmp_path / "x.npy", "--linf", 8)
    assert code == 2 and "--image" in err
    # the unit scale: 8/255 written as a decimal is the ball of 8 levels, 0.1 is 25 levels
    for unit, levels in ((repr(8 / 255), 8), ("0.1", 25), ("0.0999", 25), ("1", 255)):
        _, a, _ = run("count", path, "--image", tmp_path / "x.npy", "--linf-float", unit, "--json")
        _, b, _ = run("count", path, "--image", tmp_path / "x.npy", "--linf", levels, "--json")
        doc, want_doc = json.loads(a), json.loads(b)
        del doc["seconds"], want_doc["seconds"]
        sizes = [min(255, int(v) + levels) - max(0, int(v) - levels) + 1 for v in raw]
        assert doc == want_doc and doc["total_images"] == math.prod(sizes)


@settings(max_examples=30, deadline=None)
@given(bnns(max_inputs=4), st.data())
def test_linf_radius_equals_brute_force(base, data):
    from bdd4bnn.analyses.radius import radius_linf

    n = base.input_size
    th = data.draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    model = _with_quantizer(base, th)
    raw = np.array(data.draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)))
    label = int(classify(model, model.quantizer.quantize(raw))[0])
    want = None
    for eps in range(0, 8):
        if (classify(model, model.quantizer.quantize(_all_raw(raw, eps))) != label).any():
            want = eps - 1
            break
    res = radius_linf(model, raw, max_epsilon=7)
    assert res.status == "ok" and res.norm == "linf"
    if want is None:
        assert res.radius == 7 and res.max_reached and res.radius_upper is None
    else:
        assert res.radius == want and res.radius_upper == want + 1
        img = np.array(res.counterexample_image)
        assert np.abs(img - raw).max() == want + 1  # nothing nearer is adversarial
        assert (
            classify(model, model.quantizer.quantize(img))[0] == res.counterexample_class != label
        )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--linf", "nan"], "finite"),
        (["--linf", "-3"], "range"),
        (["--linf", "2.5"], "whole levels"),
        (["--linf", "2", "--radius", "3"], "drop --radius"),
        (["--linf-float", "nan"], "finite"),
        (["--linf-float", "1.5"], "range"),
        (["--linf-float", "-0.1"], "range"),
        (["--linf-float", "0.1", "--linf", "2"], "not both"),
    ],
)
def test_cli_linf_bad_input_is_one_line(tmp_path, args, needle):
    from bdd4bnn.formats import save_model

    from .test_cli import run

    model = _with_quantizer(
        BNN.build(3, [{"weight": np.ones((2, 3))}], {"weight": np.ones((2, 2))}), [128] * 3
    )
    save_model(model, tmp_path / "m.json")
    np.save(tmp_path / "x.npy", np.array([1, 200, 3]))
    code, out, err = run("count", tmp_path / "m.json", "--image", tmp_path / "x.npy", *args)
    assert code == 2 and needle in err and "Traceback" not in err
    code, _, err = run(
        "verify", tmp_path / "m.json", "--image", tmp_path / "missing.npy", "--linf", 1
    )
    assert code == 2 and "no such image file" in err


def test_raw_images_read_from_png_npy_and_text(tmp_path):
    from PIL import Image

    from bdd4bnn.formats import load_raw_image

    img = np.random.default_rng(0).integers(0, 256, size=(4, 5), dtype=np.uint8)
    Image.fromarray(img, mode="L").save(tmp_path / "x.png")
    np.save(tmp_path / "x.npy", img)
    (tmp_path / "x.txt").write_text(" ".join(map(str, img.ravel())))
    for name in ("x.png", "x.npy", "x.txt"):
        assert np.array_equal(load_raw_image(tmp_path / name), img.ravel().astype(float)), name
    Image.fromarray(np.zeros((4, 5, 3), np.uint8), mode="RGB").save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="one grey channel"):
        load_raw_image(tmp_path / "rgb.png")


def test_weighted_enumeration_with_large_weights():
    """Many free pixels with weights near 128: sums far past 2^64 rebuilt by CRT."""
    rng = np.random.default_rng(7)
    n = 14
    base = BNN.build(
        n, [{"weight": rng.choice([-1, 1], (6, n))}], {"weight": rng.choice([-1, 1], (3, 6))}
    )
    model = _with_quantizer(base, [128] * n)
    raw = np.full(n, 128)
    ball = linf_ball(model, raw, 128)  # every pixel free: 0..127 and 128..255
    res = count_linf(model, ball)
    patterns = np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8)
    cls = classify(model, patterns)
    want = [0] * 3
    for c, x in zip(cls, patterns, strict=True):
        want[c] += 128 ** int((x < 0).sum()) * 128 ** int((x > 0).sum())
    assert res.per_class_images == want and sum(want) == 256**n > 2**64


def test_cli_explain_over_an_linf_ball_equals_its_free_region(tmp_path):
    from bdd4bnn.formats import save_model

    from .test_cli import run

    rng = np.random.default_rng(9)
    base = BNN.build(
        8, [{"weight": rng.choice([-1, 1], (5, 8))}], {"weight": rng.choice([-1, 1], (3, 5))}
    )
    model = _with_quantizer(base, [128] * 8)
    save_model(model, tmp_path / "m.json")
    raw = np.array([120, 135, 0, 255, 126, 140, 60, 129])
    np.save(tmp_path / "x.npy", raw)
    ball = linf_ball(model, raw, 10)
    (tmp_path / "x.txt").write_text(" ".join(map(str, ball.region.center)))
    (tmp_path / "free.txt").write_text(" ".join(map(str, ball.region.free)))
    _, by_ball, _ = run(
        "explain",
        tmp_path / "m.json",
        "--image",
        tmp_path / "x.npy",
        "--linf",
        10,
        "--json",
        "--count",
        3,
    )
    _, by_free, _ = run(
        "explain",
        tmp_path / "m.json",
        "--input",
        tmp_path / "x.txt",
        "--free",
        tmp_path / "free.txt",
        "--json",
        "--count",
        3,
    )
    a, b = json.loads(by_ball), json.loads(by_free)
    assert a["explanations"] == b["explanations"] and a["essential"] == b["essential"]
    assert a["region"]["free"] == list(ball.region.free)


def test_batch_linf_regions_equal_direct_analyses(tmp_path):
    from bdd4bnn.analyses import verify
    from bdd4bnn.batch import JobError, ResultStore, load_job, run_job
    from bdd4bnn.data import load_mnist
    from bdd4bnn.formats import save_model

    from .conftest import need_shared

    need_shared("data", "mnist")
    rng = np.random.default_rng(3)
    base = BNN.build(
        784, [{"weight": rng.choice([-1, 1], (8, 784))}], {"weight": rng.choice([-1, 1], (3, 8))}
    )
    model = _with_quantizer(base, [128] * 784)
    save_model(model, tmp_path / "m.json")
    job = tmp_path / "job.toml"
    job.write_text(
        'models = ["m.json"]\nmnist_test = [0, 1]\nlinf = [8, 24]\nanalyses = ["count", "verify"]\n'
    )
    tasks = load_job(job).tasks
    assert len(tasks) == 2 * 2 * 2 and {t.describe_region() for t in tasks} == {
        "linf=8",
        "linf=24",
    }
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert run_job(load_job(job), store)["failed"] == 0
        rows = store.rows()
    images, _ = load_mnist("test")
    for r in rows:
        t = next(t for t in tasks if t.key == r["key"])
        i = int(r["input"].rsplit("-", 1)[1])
        ball = linf_ball(model, images[i], t.region["epsilon"])
        if r["analysis"] == "count":
            want = count_linf(model, ball)
            assert r["answer"]["per_class_images"] == want.per_class_images
        else:
            assert r["answer"]["robust"] == verify(model, ball.region).robust
    job.write_text('models = ["m.json"]\ninputs = ["x.txt"]\nlinf = [8]\n')
    with pytest.raises(JobError, match="linf"):
        load_job(job)
