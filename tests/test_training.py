"""Training, export and MNIST data: exact export, determinism, checksums, shipped models."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs torch (pip install '.[train]')")

from bdd4bnn import Region, load_model  # noqa: E402
from bdd4bnn.analyses import count  # noqa: E402
from bdd4bnn.data import default_data_dir, load_mnist, preprocess  # noqa: E402
from bdd4bnn.errors import InputError  # noqa: E402
from bdd4bnn.semantics import classify  # noqa: E402
from bdd4bnn.training import (  # noqa: E402
    TrainConfig,
    from_torch,
    ste_sign,
    to_torch,
    train,
)

from .conftest import ROOT, oracle_counts  # noqa: E402

MODELS = ROOT / "models"


def test_ste_sign_forward_and_gradient():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], requires_grad=True)
    y = ste_sign(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]  # sign(0) = +1
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]  # passed where |x| <= 1


def test_checksums_guard_the_data(tmp_path):
    src = default_data_dir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(src / name, tmp_path / name)
    images, labels = load_mnist("test", tmp_path)
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]
    raw = gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz").read()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw[:-1] + b"\x00")  # raw, corrupt
    with pytest.raises(InputError, match="corrupt MNIST file"):
        load_mnist("test", tmp_path)
    with pytest.raises(InputError, match="missing MNIST file"):
        load_mnist("train", tmp_path)


def test_preprocessing_rule():
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    img[0, :14, :14] = 255  # top-left quadrant white
    x = preprocess(img, 4).reshape(4, 4)
    assert x.tolist() == [[1, 1, -1, -1], [1, 1, -1, -1], [-1, -1, -1, -1], [-1, -1, -1, -1]]
    x10 = preprocess(img, 10).reshape(10, 10)  # cell 4 covers columns 11.2..14: 100% white
    assert x10[4, 4] == 1 and x10[4, 5] == -1  # cell 5 covers 14..16.8: 0% white
    assert preprocess(img, 28).reshape(28, 28)[13, 13] == 1


@pytest.fixture(scope="module")
def short_run():
    images, labels = load_mnist("train")
    x = preprocess(images[:3000], 10)
    cfg = TrainConfig([100, 32, 10], epochs=1, batch_size=64, seed=3)
    return cfg, x, labels[:3000], train(cfg, x, labels[:3000], progress=False)


def test_short_training_beats_chance_and_exports_exactly(short_run):
    cfg, x, y, module = short_run
    test_images, test_labels = load_mnist("test")
    xt = preprocess(test_images, 10)
    net = from_torch(module)
    pred = classify(net, xt)
    assert (pred == module.predict(torch.as_tensor(xt)).numpy()).all()  # all 10,000
    assert (pred == test_labels).mean() > 0.3  # chance is 0.1


def test_training_is_deterministic(short_run):
    cfg, x, y, module = short_run
    again = train(cfg, x, y, progress=False)
    a, b = from_torch(module), from_torch(again)
    assert all(
        (p.weight == q.weight).all() and (p.bias == q.bias).all()
        for p, q in zip(a.blocks, b.blocks, strict=True)
    )
    assert (a.output.bias == b.output.bias).all()


def test_round_trip_through_torch(short_run):
    net = from_torch(short_run[3])
    back = from_torch(to_torch(net))
    x = np.random.default_rng(0).choice([-1, 1], (500, 100))
    assert (classify(net, x) == classify(back, x)).all()
    assert (to_torch(net).predict(torch.as_tensor(x)).numpy() == classify(net, x)).all()


def test_ternary_training_and_exact_counts():
    images, labels = load_mnist("train")
    x = preprocess(images[:2000], 4)
    cfg = TrainConfig([16, 6, 10], epochs=1, batch_size=64, seed=0, ternary=True)
    module = train(cfg, x, labels[:2000], progress=False)
    net = from_torch(module)
    assert any((b.weight == 0).any() for b in net.blocks)  # really ternary
    center = x[0]
    res = count(net, Region.hamming(center, 3), engine="bdd")
    assert res.per_class == oracle_counts(net, center, list(range(16)), 3)


@pytest.mark.parametrize(
    "activations,bits,levels", [("ternary", 1, (-1, 0, 1)), ("binary", 2, (-2, -1, 0, 1))]
)
def test_multi_level_training_exports_exactly(activations, bits, levels):
    """GXNOR (ternary weights and activations) and 2-bit activations: the exported
    multi-threshold model predicts exactly what the module computes, on all 10,000 test
    images and on random inputs, and every engine counts it like brute force."""
    import itertools
    from dataclasses import replace

    from bdd4bnn.analyses import count_linf
    from bdd4bnn.errors import ModelError
    from bdd4bnn.linf import linf_ball
    from bdd4bnn.model import InputQuantizer

    images, labels = load_mnist("train")
    x = preprocess(images[:3000], 6)
    cfg = TrainConfig(
        [36, 12, 8, 10],
        epochs=2,
        batch_size=64,
        seed=1,
        ternary=True,
        activations=activations,
        bits=bits,
    )
    module = train(cfg, x, labels[:3000], progress=False)
    net = from_torch(module)
    assert all(b.levels == levels for b in net.blocks) and not net.is_binary
    test_images, test_labels = load_mnist("test")
    xt = preprocess(test_images, 6)
    pred = classify(net, xt)
    assert (pred == module.predict(torch.as_tensor(xt)).numpy()).all()
    assert (pred == test_labels).mean() > 0.3
    xr = np.random.default_rng(0).choice([-1, 1], (2000, 36))
    assert (classify(net, xr) == module.predict(torch.as_tensor(xr)).numpy()).all()
    from bdd4bnn.semantics import block_forward

    h = block_forward(net.blocks[0], xt)
    assert np.isin(levels[1:-1], h).any()  # a middle level is really used
    # exact counts of an L∞ ball with 12 free pixels, against the module by enumeration
    q = replace(net, quantizer=InputQuantizer.checked(36, {"raw": "uint8", "threshold": 128}))
    raw = np.where(xt[0] > 0, 255, 0)
    raw[:12] = np.where(xt[0][:12] > 0, 130, 125)  # within 5 of the threshold: free
    ball = linf_ball(q, raw, 5)
    assert ball.region.free == tuple(range(12))
    pats = np.array(list(itertools.product([-1, 1], repeat=12)))
    xs = np.repeat(ball.region.center[None, :], len(pats), axis=0)
    xs[:, :12] = pats
    want = np.bincount(module.predict(torch.as_tensor(xs)).numpy(), minlength=10).tolist()
    for engine in ("bdd", "enum"):
        assert count_linf(q, ball, engine=engine).per_class == want, engine
    with pytest.raises(ModelError, match="cannot be loaded into torch"):
        to_torch(net)


@pytest.mark.parametrize(
    "name,size,target",
    [
        ("mnist_10x10_100-50-20-10.json", 10, 0.80),
        ("mnist_28x28_784-100-10.json", 28, 0.90),
        ("mnist_28x28_784-100-10_ternary.json", 28, 0.95),
        ("mnist_28x28_784-2048-2048-2048-10.npz", 28, 0.97),
    ],
)
def test_shipped_models_hold_their_accuracy(name, size, target):
    path = MODELS / name
    net = load_model(path)
    images, labels = load_mnist("test")
    spec = net.metadata["preprocessing"]
    assert spec["size"] == size
    acc = float((classify(net, preprocess(images, size, spec["threshold"])) == labels).mean())
    assert acc >= target
    assert acc == pytest.approx(net.metadata["training"]["test_accuracy"], abs=1e-12)
    if path.suffix == ".json":
        assert json.loads(path.read_text())["format"] == "bdd4bnn.bnn"


def test_cli_train_eval_dataset_input(tmp_path):
    from click.testing import CliRunner

    from bdd4bnn.cli import main

    out = tmp_path / "m.json"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "train",
            "--arch",
            "16-8-10",
            "--size",
            "4",
            "--epochs",
            "1",
            "--limit",
            "600",
            "--seed",
            "2",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["history"][0]["epoch"] == 1 and 0 <= doc["test_accuracy"] <= 1
    res = runner.invoke(main, ["eval", str(out), "--json"])
    ev = json.loads(res.stdout)
    assert res.exit_code == 0 and ev["n"] == 10000
    assert ev["accuracy"] == pytest.approx(doc["test_accuracy"], abs=1e-12)
    inp = tmp_path / "x.txt"
    res = runner.invoke(
        main, ["dataset-input", "--index", "3", "--model", str(out), "--out", str(inp)]
    )
    assert res.exit_code == 0 and "label 0" in res.stdout  # test image 3 is a 0
    net = load_model(out)
    images, _ = load_mnist("test")
    spec = net.metadata["preprocessing"]
    want = preprocess(images[3:4], 4, spec["threshold"])[0]
    assert [int(v) for v in inp.read_text().split()] == [int(v > 0) for v in want]
    bad = runner.invoke(main, ["train", "--arch", "16-8-10", "--size", "5", "--out", str(out)])
    assert bad.exit_code == 2 and "input size 16 != 5*5" in bad.output
    missing = runner.invoke(main, ["eval", str(out), "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "missing MNIST file" in missing.stderr
