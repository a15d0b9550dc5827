"""The input quantizer (model format version 2): how raw inputs become ±1 values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bdd4bnn import load_model
from bdd4bnn.data import model_inputs, preprocess, raw_quantizer
from bdd4bnn.errors import InputError, ModelError
from bdd4bnn.formats import model_to_dict, save_model
from bdd4bnn.model import BNN

from .conftest import need_shared


def _doc(**input_section):
    rng = np.random.default_rng(0)
    return {
        "format": "bdd4bnn.bnn",
        "version": 2,
        "input_size": 6,
        "blocks": [{"weight": rng.choice([-1, 1], (3, 6)).tolist(), "bias": [0.0, 1.0, -1.0]}],
        "output": {"weight": rng.choice([-1, 1], (2, 3)).tolist()},
        "input": {"raw": "uint8", "low": 0, "high": 255, "threshold": 128} | input_section,
    }


def test_version_2_round_trips_and_version_1_stays_1(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_doc(threshold=[0, 10, 128, 200, 255, 256])))
    model = load_model(path)
    assert model.quantizer is not None and model.quantizer.threshold.tolist()[-1] == 256
    raw = np.array([[0, 9, 128, 199, 255, 255], [0, 10, 127, 200, 254, 255]])
    assert model.quantizer.quantize(raw).tolist() == [[1, -1, 1, -1, 1, -1], [1, 1, -1, 1, -1, -1]]
    save_model(model, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["version"] == 2 and again["input"]["threshold"] == [0, 10, 128, 200, 255, 256]
    plain = BNN.build(6, [{"weight": np.ones((2, 6))}], {"weight": np.ones((2, 2))})
    assert model_to_dict(plain)["version"] == 1 and "input" not in model_to_dict(plain)


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"raw": "int4"}, "input.raw"),
        ({"threshold": [1, 2]}, "input.threshold"),
        ({"threshold": float("nan")}, "input.threshold"),
        ({"low": 10, "high": 5}, "below high"),
        ({"high": 300}, "uint8 bounds"),
        ({"colour": 1}, "input.colour: unknown field"),
    ],
)
def test_bad_quantizers_are_one_line_errors(tmp_path, change, needle):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_doc(**change)))
    with pytest.raises(ModelError, match=needle) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_raw_values_out_of_range_are_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_doc()))
    q = load_model(path).quantizer
    with pytest.raises(InputError, match="0..255"):
        q.quantize(np.array([[0, 0, 0, 0, 0, 256]]))
    with pytest.raises(InputError, match="reads 6"):
        q.quantize(np.zeros(7))


@pytest.mark.parametrize("threshold", [0.4, 0.25, 0.5])
def test_train_quantizer_equals_its_preprocessing(threshold):
    from bdd4bnn.data import load_mnist

    need_shared("data", "mnist")
    images, _ = load_mnist("test")
    spec = raw_quantizer(28, threshold)
    model = BNN.build(
        784, [{"weight": np.ones((1, 784))}], {"weight": np.ones((2, 1))}, quantizer=spec
    )
    got, side = model_inputs(model, images)
    assert side == 28 and np.array_equal(got, preprocess(images, 28, threshold))
    assert raw_quantizer(10, threshold) is None  # resized: no per-pixel rule
