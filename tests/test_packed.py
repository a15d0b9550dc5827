"""Compact bit-packed ``.npz`` models: exact round trips and one-line errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings

from bdd4bnn import load_model
from bdd4bnn.errors import ModelError
from bdd4bnn.formats import model_to_dict, save_model
from bdd4bnn.packed import load_packed, save_packed
from bdd4bnn.semantics import classify

from .conftest import ROOT, bnns
from .test_multilevel import nets


def _same(a, b) -> None:
    """Equal documents: every weight, bias, batch norm, threshold, level and metadata."""
    assert json.dumps(model_to_dict(a), sort_keys=True) == json.dumps(
        model_to_dict(b), sort_keys=True
    )


@settings(max_examples=40, deadline=None)
@given(model=bnns(max_inputs=20, max_width=12))
def test_round_trip_of_random_bnns(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    save_model(model, path)  # by its suffix
    back = load_packed(path)
    _same(model, back)
    assert load_model(path).name == "m"  # named after its file, as JSON models are
    x = np.random.default_rng(0).choice([-1, 1], (64, model.input_size))
    assert (classify(back, x) == classify(model, x)).all()


@settings(max_examples=30, deadline=None)
@given(model=nets(max_inputs=6, max_blocks=3, max_width=5))
def test_round_trip_of_multi_level_networks(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    save_packed(model, path)
    _same(model, load_packed(path))


def test_shipped_model_is_eight_times_smaller_than_json(tmp_path):
    model = load_model(ROOT / "models" / "mnist_28x28_784-100-10.json")
    path = tmp_path / "m.npz"
    save_model(model, path)
    back = load_model(path)
    _same(model, back)
    assert back.name == model.name  # the name travels in the metadata
    weights = 784 * 100 + 100 * 10
    assert path.stat().st_size < weights / 8 + 8 * (100 * 6 + 10) + 4096  # bits, floats, header


def _archive(tmp_path, **arrays) -> str:
    path = tmp_path / "bad.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return str(path)


def test_malformed_archives_are_one_line_errors(tmp_path):
    good = tmp_path / "good.npz"
    model = load_model(ROOT / "models" / "mnist_10x10_100-50-20-10.json")
    save_packed(model, good)
    z = dict(np.load(good))
    header = json.loads(z["header"].tobytes())

    def with_header(**change):
        doc = dict(header, **change)
        return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)

    cases = {
        "random.npz": (b"not a zip at all", "not a readable .npz model"),
        "cut.npz": (good.read_bytes()[:200], "not a readable .npz model|malformed"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelError, match=words):
            load_model(tmp_path / name)
    bad = [
        ({k: v for k, v in z.items() if k != "header"}, "header: missing array"),
        (dict(z, header=np.frombuffer(b"{oops", dtype=np.uint8)), "header: not a JSON"),
        (dict(z, header=with_header(format="other")), "format: expected"),
        (dict(z, header=with_header(version=9)), "version: unsupported"),
        (dict(z, header=with_header(input_size=99)), r"b0.in: expected 99 inputs, got 100"),
        (dict(z, header=with_header(blocks=[])), "at least one hidden block"),
        ({k: v for k, v in z.items() if k != "b1.bias"}, "b1.bias: missing array"),
        (dict(z, **{"b0.sign": z["b0.sign"][:3]}), r"b0.sign: expected u-array of shape"),
        (dict(z, **{"out.bias": np.array(["a"] * 10)}), "out.bias: expected f-array"),
    ]
    for arrays, words in bad:
        with pytest.raises(ModelError, match=words) as info:
            load_model(_archive(tmp_path, **arrays))
        assert "\n" not in str(info.value) and str(info.value).startswith(str(tmp_path))
    pickled = tmp_path / "pickle.npz"
    buf = io.BytesIO()
    np.savez(buf, header=np.array([{"format": "x"}], dtype=object))
    pickled.write_bytes(buf.getvalue())
    with pytest.raises(ModelError):
        load_model(pickled)
