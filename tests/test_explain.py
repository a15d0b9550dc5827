"""Explanations are sufficient, prime, shortest, complete and essential — by brute force."""

from __future__ import annotations

import itertools
import struct

import numpy as np
from hypothesis import given, settings

from bdd4bnn import Region
from bdd4bnn.analyses.explain import class_graph, explain
from bdd4bnn.plots import PANEL_PIXELS, draw_explanations

from .conftest import bnn_and_region, need_shared, oracle_classify, region_points


def sufficient(model, center, free, radius, label, keep):
    """Every input of the region agreeing with center on ``keep`` has class ``label``."""
    for x in region_points(
        center,
        [i for i in free if i not in keep],
        min(radius, len([i for i in free if i not in keep])),
    ):
        if oracle_classify(model, x) != label:
            return False
    return True


def brute(model, center, free, radius):
    label = oracle_classify(model, center)
    suff = {}
    for k in range(len(free) + 1):
        for s in itertools.combinations(free, k):
            suff[frozenset(s)] = sufficient(model, center, free, radius, label, set(s))
    minimal = [set(s) for s, ok in suff.items() if ok and not any(suff[s - {i}] for i in s)]
    members = [x for x in region_points(center, free, radius) if oracle_classify(model, x) == label]
    essential = [i for i in free if all(x[i] == center[i] for x in members)]
    return label, minimal, essential


@settings(max_examples=60, deadline=None)
@given(bnn_and_region(max_inputs=7))
def test_explanations_by_brute_force(case):
    model, center, free, radius, kind = case
    region = (
        Region.hamming(center, radius) if kind == "hamming" else Region.fixed(center, free, radius)
    )
    label, minimal, essential = brute(model, center, free, radius)
    necessary = sorted(set.intersection(*minimal)) if minimal else []
    res = explain(model, region, kind="pi", count=1000)
    assert res.label == label
    assert sorted(map(tuple, res.explanations)) == sorted(tuple(sorted(m)) for m in minimal)
    assert res.num_explanations == len(minimal)
    assert res.essential == essential and res.necessary == necessary
    short = explain(model, region, kind="shortest").explanations[0]
    assert len(short) == min(len(m) for m in minimal) and set(short) in minimal
    sat = explain(model, region, kind="pi", engine="sat")
    assert set(sat.explanations[0]) in minimal  # sufficient and prime
    assert sat.essential == essential and sat.necessary == necessary
    for e, v in zip(res.explanations, res.values, strict=True):
        assert v == [int(center[i]) for i in e]


def test_explanations_over_all_inputs():
    from bdd4bnn.model import BNN

    rng = np.random.default_rng(4)
    model = BNN.build(
        6,
        [{"weight": rng.choice([-1, 1], (3, 6)), "bias": [0.5, -1.0, 0.0]}],
        {"weight": rng.choice([-1, 1], (2, 3))},
    )
    center = rng.choice([-1, 1], 6)
    label, minimal, essential = brute(model, center, list(range(6)), 6)
    res = explain(model, Region.everything(center), count=100)
    assert sorted(map(tuple, res.explanations)) == sorted(tuple(sorted(m)) for m in minimal)
    assert res.essential == essential


def test_bnnquanalyst_explanations_checked_by_bdd_and_sat():
    from bdd4bnn import load_input, load_model
    from bdd4bnn.analyses import verify

    model = load_model(
        need_shared("peers", "bnnquanalyst", "models", "mnist_bnn_2_blk_100_50_20_10")
    )
    u = load_input(need_shared("peers", "bnnquanalyst", "inputs", "instance_0_100.txt"), 100)
    region = Region.hamming(u, 2)
    res = explain(model, region, kind="pi", count=3)
    assert res.status == "ok" and len(res.explanations) == 3 and res.num_explanations >= 3
    for e in res.explanations:
        rest = [i for i in range(100) if i not in e]
        # sufficient: the sub-region where only the other pixels move is robust...
        assert verify(model, Region.fixed(u, rest, 2), engine="bdd", samples=0).robust
        # ...and prime: giving up any one pixel breaks it
        for i in e:
            assert not verify(model, Region.fixed(u, sorted(rest + [i]), 2), engine="sat").robust


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_png_is_written_with_expected_size_and_differs(tmp_path):
    a = np.where(np.arange(100) % 7 == 0, 1, -1)
    b = -a
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    wa, ha = draw_explanations(a, [[0, 7, 14], [21]], [3], pa)
    draw_explanations(b, [[0, 7, 14], [21]], [3], pb)
    assert png_size(pa) == (wa, ha) == (2 * PANEL_PIXELS, PANEL_PIXELS + 40)
    assert pa.read_bytes() != pb.read_bytes()


def test_class_graph_is_the_class_bdd():
    from bdd4bnn.model import BNN

    model = BNN.build(
        4,
        [{"weight": [[1, 1, -1, 1], [1, -1, -1, -1]]}],
        {"weight": [[1, -1], [-1, 1]], "bias": [0.0, 0.0]},
    )
    center = np.array([1, 1, -1, 1])
    g = class_graph(model, Region.hamming(center, 4))
    assert g.graph["class"] == oracle_classify(model, center)

    def evaluate(x):
        node = g.graph["root"]
        while node not in ("T", "F"):
            var = g.nodes[node]["var"]
            node = next(
                v for _, v, d in g.out_edges(node, data=True) if d["value"] == int(x[var] > 0)
            )
        return node == "T"

    for x in region_points(center, range(4), 4):
        assert evaluate(x) == (oracle_classify(model, x) == g.graph["class"])
