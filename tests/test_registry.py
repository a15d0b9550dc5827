"""Every registered engine against brute force and against each other, driven by the registry:
a new engine is tested by registering it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn.engines import REGISTRY, Capability, names
from bdd4bnn.errors import EngineError
from bdd4bnn.limits import Budget

from .conftest import (
    bnn_and_region,
    make_region,
    oracle_classify,
    oracle_counts,
    region_points,
)

ENGINES = sorted(REGISTRY)


def _ring_of(x, center) -> int:
    return int(np.sum(np.asarray(x) != np.asarray(center)))


@pytest.mark.parametrize("name", ENGINES)
@settings(max_examples=40, deadline=None)
@given(case=bnn_and_region(max_inputs=8), data=st.data())
def test_engine_answers_equal_brute_force(name, case, data):
    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    engine = REGISTRY[name]
    want = oracle_counts(model, center, free, r)
    label = oracle_classify(model, center)
    others = [c for c in range(model.num_classes) if c != label]
    k = data.draw(st.integers(0, r))
    with engine.prepare(model, region, Budget()) as prepared:
        if engine.can(Capability.COUNT, Capability.EXACT):
            assert prepared.counts() == want
            assert prepared.counts(distances=[k]) == oracle_counts(model, center, free, r, [k])
            inner = region.with_radius(k)
            assert prepared.counts(inner) == oracle_counts(model, center, free, k)
        if engine.can(Capability.CLASS_FUNCTION):
            f = prepared.class_function(label)
            n_fixed = region.n - len(region.free)
            assert prepared.mgr.count(f) >> n_fixed == want[label]
        if engine.can(Capability.FIND):
            x = prepared.find(None, others)
            assert (x is None) == (sum(want) == want[label])
            if x is not None:
                assert region.contains(x)[0] and oracle_classify(model, x) in others
            ring = oracle_counts(model, center, free, r, [k])
            y = prepared.find(None, others, distances=[k])
            assert (y is None) == (sum(ring) == ring[label])
            if y is not None:
                assert _ring_of(y, center) == k and oracle_classify(model, y) in others
            if free and r:
                i = data.draw(st.sampled_from(free))
                z = prepared.find(None, [label], flip=[i])
                exists = any(
                    x[i] != center[i] and oracle_classify(model, x) == label
                    for x in region_points(center, free, r)
                )
                assert (z is not None) == exists
                if z is not None:
                    assert z[i] != center[i] and region.contains(z)[0]
                    assert oracle_classify(model, z) == label
        else:
            with pytest.raises(EngineError):
                prepared.find(None, others)


def test_names_come_from_the_registry():
    assert set(names(Capability.COUNT, auto=False)) == {
        n for n, e in REGISTRY.items() if Capability.COUNT in e.capabilities
    }
    assert names(Capability.FIND)[0] == "auto"
    with pytest.raises(EngineError, match="choose from"):
        from bdd4bnn.engines import get

        get("nonsense")
