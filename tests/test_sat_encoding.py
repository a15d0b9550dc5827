"""The SAT encodings (plain and relative to a ball) and the two-way counter, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.formula import IDPool
from pysat.solvers import Solver

from bdd4bnn.encoders.totalizer import counter
from bdd4bnn.engines.sat.session import SatSession

from .conftest import bnn_and_region, make_region, oracle_counts


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(0, 9), st.randoms(use_true_random=False))
def test_counter_outputs_mean_exactly_at_least_t(n, cap, rnd):
    pool = IDPool()
    xs = [pool.id(("x", i)) for i in range(n)]
    lits = [x if rnd.random() < 0.5 else -x for x in xs]  # negated inputs too
    clauses: list[list[int]] = []
    out = counter(lits, cap, pool, clauses)
    assert len(out) == min(cap, n)
    with Solver(name="glucose4", bootstrap_with=clauses) as s:
        for values in itertools.product([False, True], repeat=n):
            fixed = [x if v else -x for x, v in zip(xs, values, strict=True)]
            true = sum((lit > 0) == v for lit, v in zip(lits, values, strict=True))
            for t, o in enumerate(out, start=1):
                # the output is forced: only its right value is consistent
                assert s.solve(assumptions=[*fixed, o]) == (true >= t)
                assert s.solve(assumptions=[*fixed, -o]) == (true < t)


@settings(max_examples=100, deadline=None)
@given(bnn_and_region(max_inputs=9), st.data())
def test_relative_and_plain_sessions_find_exactly_the_brute_force_inputs(case, data):
    """Every (query radius, ring, class) inside an envelope: an input exists iff brute force
    finds one, and the one returned is in the ring and of the class."""
    model, center, free, radius, kind = case
    envelope = make_region(center, free, radius, kind)
    r = data.draw(st.integers(0, radius), label="query radius")
    query = make_region(center, free, r, "fixed")
    for relative in (True, False):
        with SatSession(model, envelope, relative=relative) as s:
            for d in range(r + 1):
                want = oracle_counts(model, center, free, r, distances={d})
                for c in range(model.num_classes):
                    x = s.find(query, [c], distance=d)
                    assert (x is not None) == (want[c] > 0), (relative, d, c)
                    if x is not None:
                        assert int(np.sum(x != center)) == d
                        assert query.contains(x)[0]
                        assert oracle_counts(model, x, [], 0)[c] == 1
            want = oracle_counts(model, center, free, r)
            others = list(range(1, model.num_classes))
            assert (s.find(query, others) is not None) == (sum(want[1:]) > 0), relative


def test_a_cnf_past_its_size_estimate_is_unknown_with_the_reason(monkeypatch):
    """Dense 2048-wide blocks would need billions of clauses: refused before encoding, as an
    answer ("unknown", why), while the same query under the ceiling is answered."""
    from bdd4bnn import Region, load_model
    from bdd4bnn.analyses import verify
    from bdd4bnn.encoders import cnf

    from .conftest import ROOT

    model = load_model(ROOT / "models" / "mnist_10x10_100-50-20-10.json")
    center = np.ones(100, dtype=np.int8)
    assert verify(model, Region.hamming(center, 2), engine="sat", samples=0).status == "ok"
    monkeypatch.setattr(cnf, "MAX_CLAUSES", 1000)
    res = verify(model, Region.hamming(center, 2), engine="sat", samples=0)
    assert res.status == "unknown" and "clauses" in res.reason
