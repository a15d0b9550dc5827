"""The BDD layer: grids, region-aware grids, composition, exact counting; both backends."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn.encoders.bdd import BddManager, available_backends
from bdd4bnn.encoders.constraints import Card
from bdd4bnn.region import Region

BACKENDS = available_backends()


def truth(eng, u, n):
    """Evaluate u on every assignment of n variables (by restriction to constants)."""
    out = []
    for bits in itertools.product([False, True], repeat=n):
        v = eng.bdd.let({f"x{i}": bits[i] for i in range(n)}, u)
        out.append(v == eng.true)
    return np.array(out)


def test_cudd_backend_is_available():
    assert BACKENDS[0] == "cudd", "dd was installed without its CUDD extension"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,k", [(1, 0), (1, 1), (5, 2), (7, 7), (7, 0), (6, 8), (10, 4)])
def test_region_rest_counts_binomials(backend, n, k):
    """At most n − k flips from the all-true input: at least k of n variables true."""
    eng = BddManager(n, backend)
    u = eng.region_rest(Region.hamming(np.ones(n, dtype=int), n), 0, n - k)
    assert eng.count(u) == sum(math.comb(n, j) for j in range(max(k, 0), n + 1))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_region_rest_is_the_flip_budget_on_a_suffix(data):
    n = data.draw(st.integers(1, 7))
    center = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)))
    free = sorted(data.draw(st.sets(st.integers(0, n - 1))))
    region = Region.fixed(center, free, data.draw(st.integers(0, len(free))))
    eng = BddManager(n, data.draw(st.sampled_from(BACKENDS)))
    x = np.array(list(itertools.product([-1, 1], repeat=n)))
    for d in range(len(free) + 1):  # later calls reuse the grid the first ones built
        for b in range(-1, len(free) - d + 2):
            flips = (x[:, free[d:]] != center[free[d:]]).sum(axis=1)
            assert (truth(eng, eng.region_rest(region, d, b), n) == (flips <= b)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_count_above_two_to_the_53(backend):
    n, r = 784, 8
    eng = BddManager(n, backend)
    center = np.where(np.arange(n) % 3 == 0, 1, -1)
    region = Region.hamming(center, r)
    got = eng.count(eng.region_bdd(region))
    want = sum(math.comb(n, k) for k in range(r + 1))
    assert want > 2**53
    assert got == want == region.size
    # complement edges: the complement counts as 2^n - count
    assert eng.count(~eng.region_bdd(region)) == 2**n - want


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_card_in_region_equals_card_on_region(data):
    n = data.draw(st.integers(1, 8))
    idx = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    pos = [data.draw(st.booleans()) for _ in idx]
    card = Card(tuple(idx), tuple(pos), data.draw(st.integers(-1, len(idx) + 1)))
    center = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)))
    free = sorted(data.draw(st.sets(st.integers(0, n - 1))))
    region = Region.fixed(center, free, data.draw(st.integers(0, len(free))))
    backend = data.draw(st.sampled_from(BACKENDS))
    eng = BddManager(n, backend)
    u = eng.card_in_region(card, region)
    x = np.array(list(itertools.product([-1, 1], repeat=n)))
    inside = region.contains(x)
    got = truth(eng, u, n)
    assert (got[inside] == card.holds(x)[inside]).all()
    assert eng.count(eng.region_bdd(region)) >> (n - len(free)) == region.size


@pytest.mark.parametrize("backend", BACKENDS)
def test_card_of_functions_is_composition(backend):
    n = 4
    eng = BddManager(n, backend)
    g = [eng.var(0) & eng.var(1), eng.var(2) | eng.var(3), ~eng.var(0)]
    card = Card((0, 1, 2), (True, False, True), 2)
    u = eng.card_of(card, g)
    x = np.array(list(itertools.product([-1, 1], repeat=n)))
    xb = x > 0
    lits = np.stack([xb[:, 0] & xb[:, 1], ~(xb[:, 2] | xb[:, 3]), ~xb[:, 0]], axis=1)
    assert (truth(eng, u, n) == (lits.sum(axis=1) >= 2)).all()
