"""Every public conformance case of ../shared/conformance passes."""

from __future__ import annotations

import json

import pytest

from bdd4bnn import Region, count, load_model, verify

from .conftest import SHARED


def _cases():
    path = SHARED / "conformance" / "cases.json"
    if not path.exists():
        return [
            pytest.param(
                None, marks=pytest.mark.skip(reason=f"{path} not found (set BDD4BNN_SHARED)")
            )
        ]
    return [
        pytest.param(c, id=f"{c['model'].split('/')[-1]}-r{c['radius']}")
        for c in json.loads(path.read_text())
    ]


@pytest.mark.parametrize("case", _cases())
def test_conformance_case(case):
    model = load_model(SHARED / "conformance" / case["model"])
    if case["free"] is None:
        region = Region.hamming(case["input"], case["radius"])
    else:
        region = Region.fixed(case["input"], case["free"], case["radius"])
    res = count(model, region)
    want = case["expected"]
    assert res.label == want["label"]
    assert res.total == want["total"]
    assert res.per_class == want["per_class"]
    assert res.adversarial == want["adversarial"]
    assert res.robust == want["robust"]
    assert verify(model, region).robust == want["robust"]
