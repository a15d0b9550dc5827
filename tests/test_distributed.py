"""One query over a Dask LocalCluster: the same answers as one process, a killed worker
changes nothing, an unreachable scheduler is a one-line error."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bdd4bnn import Region, load_input, load_model
from bdd4bnn.analyses import count, radius, verify
from bdd4bnn.analyses.distributed import connect
from bdd4bnn.errors import InputError, RegionError
from bdd4bnn.linf import linf_ball
from bdd4bnn.semantics import classify

from .conftest import (
    bnn_and_region,
    bnns,
    make_region,
    need_shared,
    oracle_classify,
    region_points,
)
from .test_linf import _with_quantizer
from .test_multilevel import _balls, _oracle_counts, nets, oracle

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")

# A live Client's threads draw from the `random` module while hypothesis generates examples in
# the main thread; hypothesis reports that as a deprecation (an error here), although no
# strategy of these tests uses `random`.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@settings(max_examples=60, deadline=None)
@given(case=bnn_and_region(max_inputs=7), parts=st.integers(1, 40))
def test_split_is_a_disjoint_cover(case, parts):
    _, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    pieces = region.split(parts)
    assert len(pieces) == min(parts, region.size) or len(pieces) >= parts
    seen = [tuple(x) for p in pieces for x in region_points(p.center, p.free, p.radius)]
    assert len(seen) == len(set(seen)) == region.size
    assert set(seen) == {tuple(x) for x in region_points(center, free, r)}
    with pytest.raises(RegionError, match="parts"):
        region.split(0)


@settings(max_examples=8, deadline=None)
@given(case=bnn_and_region(max_inputs=8), parts=st.integers(1, 12))
def test_distributed_answers_equal_one_process(client, case, parts):
    from bdd4bnn.analyses.distributed import count_on, verify_on

    model, center, free, r, kind = case
    region = make_region(center, free, r, kind)
    local = count(model, region, engine="enum")
    spread = count_on(client, model, region, engine="auto", parts=parts)
    assert spread.status == "ok" and spread.per_class == local.per_class
    assert spread.adversarial == local.adversarial
    v = verify_on(client, model, region, engine="auto", parts=parts)
    assert v.robust == local.robust
    if not v.robust:
        assert region.contains(v.counterexample)[0]
        assert oracle_classify(model, v.counterexample) != local.label


def test_bnnquanalyst_a1_to_a4_on_the_cluster(client):
    peers = need_shared("peers", "bnnquanalyst")
    for name, inst, r in (
        ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", 3),
        ("mnist_bnn_1_blk_100_100_10", "instance_2_100", 2),
        ("mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25", 4),
        ("mnist_bnn_1_blk_784_100_10", "instance_0_784", None),
    ):
        model = load_model(peers / "models" / name)
        u = load_input(peers / "inputs" / f"{inst}.txt", model.input_size)
        if r is None:  # A4: the 20 free pixels
            free = (peers / "inputs" / "fixed_set_file_random_784_20.txt").read_text().split()
            region = Region.fixed(u, [int(i) for i in free])
        else:
            region = Region.hamming(u, r)
        assert count(model, region, client=client).per_class == count(model, region).per_class
        assert verify(model, region, client=client).robust == verify(model, region).robust


def test_a_killed_worker_changes_nothing(client):
    """One worker process dies mid-query (its nanny restarts it; Dask reruns its parts)."""
    rng = np.random.default_rng(5)
    from bdd4bnn.model import BNN

    model = BNN.build(
        60,
        [{"weight": rng.choice([-1, 1], (40, 60))}, {"weight": rng.choice([-1, 1], (20, 40))}],
        {"weight": rng.choice([-1, 1], (4, 20))},
    )
    region = Region.hamming(rng.choice([-1, 1], 60), 4)
    want = count(model, region, engine="enum").per_class
    out = {}

    def run():
        out["res"] = count(model, region, engine="enum", client=client)

    worker = sorted(client.scheduler_info()["workers"])[0]
    pid = client.run(os.getpid, workers=[worker])[worker]
    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    t.join(timeout=300)
    assert out["res"].status == "ok" and out["res"].per_class == want
    client.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_is_a_one_line_error():
    t = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach it within") as info:
        connect("tcp://127.0.0.1:1")
    assert time.perf_counter() - t < 10 and "\n" not in str(info.value)


def test_an_interrupted_query_resumes_from_its_kept_parts(client, tmp_path):
    """A limit stops the first run after some parts; the rerun sends only the others and
    gives the exact answer (and a third run sends nothing)."""
    from bdd4bnn.analyses.distributed import count_on, verify_on

    rng = np.random.default_rng(7)
    from bdd4bnn.model import BNN

    model = BNN.build(
        40, [{"weight": rng.choice([-1, 1], (30, 40))}], {"weight": rng.choice([-1, 1], (3, 30))}
    )
    region = Region.hamming(rng.choice([-1, 1], 40), 3)
    db = tmp_path / "parts.sqlite"
    want = count(model, region, engine="enum").per_class
    first = count_on(client, model, region, engine="enum", store=db, timeout=0.05)
    import sqlite3

    kept = sqlite3.connect(db).execute("SELECT COUNT(*) FROM query_parts").fetchone()[0]
    again = count_on(client, model, region, engine="enum", store=db)
    assert again.status == "ok" and again.per_class == want
    if first.status != "ok":
        assert f"({kept} kept" in again.engine_reason or kept == 0
    third = count_on(client, model, region, engine="enum", store=db)
    assert third.per_class == want and "(64 kept from an earlier run)" in third.engine_reason
    v = verify_on(client, model, region, store=db)
    assert v.robust == (want[v.label] == region.size)


def test_cli_scheduler(client, tmp_path):
    from click.testing import CliRunner

    from bdd4bnn.cli import main

    from .conftest import ROOT

    address = client.scheduler.address
    model = str(ROOT / "models" / "mnist_10x10_100-50-20-10.json")
    inp = str(ROOT / "examples" / "mnist_test_0_10x10.txt")
    args = ["count", model, "--input", inp, "--radius", "2", "--json", "-q"]
    local = CliRunner().invoke(main, args)
    spread = CliRunner().invoke(main, [*args, "--scheduler", address])
    assert spread.exit_code == local.exit_code == 0, spread.output
    import json

    assert json.loads(spread.stdout)["per_class"] == json.loads(local.stdout)["per_class"]
    res = CliRunner().invoke(main, [*args, "--parts-db", str(tmp_path / "p.sqlite")])
    assert res.exit_code == 2 and "--parts-db keeps the parts" in res.output


@settings(max_examples=6, deadline=None)
@given(case=bnn_and_region(max_inputs=8))
def test_radius_on_the_cluster_equals_one_process(client, case):
    model, center, free, r, kind = case
    region = Region.hamming(center, len(center))
    local = radius(model, region)
    spread = radius(model, region, client=client)
    assert spread.status == "ok" and spread.radius == local.radius
    if spread.counterexample is not None:
        x = spread.counterexample
        assert oracle_classify(model, x) != local.label
        assert sum(a != b for a, b in zip(x, center, strict=True)) == spread.radius_upper


@st.composite
def linf_cases(draw):
    """Draw (network, raw image, ε, ball): a binary network with an input quantizer, or a
    multi-level one whose ball may be split into boxes of two levels per pixel."""
    if draw(st.booleans()):
        model = draw(nets(max_inputs=3, gaps=(1, 4)))
        raw, eps = _balls(draw, model)
        eps = draw(st.integers(eps, 5))
    else:
        base = draw(bnns(max_inputs=5))
        th = draw(
            st.lists(
                st.sampled_from([0, 3, 128, 250]),
                min_size=base.input_size,
                max_size=base.input_size,
            )
        )
        model = _with_quantizer(base, th)
        raw = np.array(
            draw(
                st.lists(
                    st.sampled_from([0, 2, 126, 128, 129, 253, 255]),
                    min_size=base.input_size,
                    max_size=base.input_size,
                )
            )
        )
        eps = draw(st.integers(0, 4))
    return model, raw, eps, linf_ball(model, raw, eps, split=True)


def _linf_oracle(model, raw, eps):
    """Per class: the ball's binary (level) patterns and raw images, by enumerating the raw
    images with the independent classifier of the multi-level tests."""
    return _oracle_counts(model, raw, eps)


@settings(max_examples=60, deadline=None)
@given(case=linf_cases(), parts=st.integers(1, 20))
def test_linf_ball_split_is_a_disjoint_cover(case, parts):
    """The parts of a split L∞ ball: disjoint, covering it, each counted like the oracle."""
    from bdd4bnn.analyses import count_linf

    model, raw, eps, ball = case
    pieces = ball.split(parts)
    assert len(pieces) >= min(parts, ball.size)
    assert sum(p.size for p in pieces) == ball.size
    assert sum(p.total_images for p in pieces) == ball.total_images
    per_class, images = _linf_oracle(model, raw, eps)
    got_patterns, got_images = [0] * len(images), [0] * len(images)
    for p in pieces:
        r = count_linf(model, p, engine="enum")
        got_patterns = [a + b for a, b in zip(got_patterns, r.per_class, strict=True)]
        got_images = [a + b for a, b in zip(got_images, r.per_class_images, strict=True)]
        net = p.model or model
        for x in region_points(p.region.center, p.region.free, p.region.radius):
            w = p.raw_witness(x)  # a raw image of the whole ball with this pattern
            assert np.abs(w - raw).max() <= eps and (w >= 0).all() and (w <= 255).all()
            assert oracle(model, w) == int(classify(net, np.asarray(x)))
    assert got_patterns == per_class and got_images == images
    with pytest.raises(RegionError, match="parts"):
        ball.split(0)


@settings(max_examples=10, deadline=None)
@given(case=linf_cases(), parts=st.integers(1, 12))
def test_linf_balls_on_the_cluster_equal_the_oracle(client, case, parts):
    from bdd4bnn.analyses import count_linf, verify_linf

    model, raw, eps, ball = case
    per_class, images = _linf_oracle(model, raw, eps)
    label = oracle(model, raw)
    c = count_linf(model, ball, client=client, parts=parts)
    assert c.status == "ok" and c.label == label
    assert c.per_class == per_class and c.per_class_images == images
    assert c.adversarial_images == sum(images) - images[label]
    v = verify_linf(model, ball, client=client, parts=parts)
    assert v.status == "ok" and v.robust == (images[label] == sum(images))
    if not v.robust:
        x = np.asarray(v.raw_counterexample)
        assert np.abs(x - raw).max() <= eps and (x >= 0).all() and (x <= 255).all()
        assert oracle(model, x) == v.counterexample_class != label


@settings(max_examples=6, deadline=None)
@given(case=linf_cases())
def test_linf_radius_on_the_cluster_equals_one_process(client, case):
    from bdd4bnn.analyses import radius_linf

    model, raw, _, _ = case
    assume(model.is_binary)
    local = radius_linf(model, raw, max_epsilon=20)
    spread = radius_linf(model, raw, max_epsilon=20, client=client)
    assert spread.status == "ok" and spread.radius == local.radius
    assert spread.radius_upper == local.radius_upper


@settings(max_examples=10, deadline=None)
@given(
    case=bnn_and_region(max_inputs=7),
    eps=st.sampled_from([0.05, 0.25, 0.5]),
    at=st.integers(0, 7),
)
def test_share_radius_on_the_cluster_equals_one_process(client, case, eps, at):
    model, center, *_ = case
    region = Region.hamming(center, len(center))
    local = radius(model, region, epsilon=eps)
    shares = local.shares
    edge = 1 - shares[min(at, len(shares) - 1)]  # a share exactly at 1 − ε: it passes
    for e in (eps, edge) if 0 < edge < 1 else (eps,):
        local = radius(model, region, epsilon=e)
        spread = radius(model, region, epsilon=e, client=client)
        assert spread.status == "ok" and spread.radius == local.radius
        assert spread.shares == local.shares
        if spread.counterexample is not None:
            x = spread.counterexample
            assert oracle_classify(model, x) != local.label
            assert sum(a != b for a, b in zip(x, center, strict=True)) <= spread.radius_upper


def test_cli_scheduler_takes_linf_balls_and_share_radii(client, tmp_path):
    import json

    from bdd4bnn.formats import save_model
    from bdd4bnn.model import BNN

    from .test_cli import run

    rng = np.random.default_rng(2)
    base = BNN.build(
        6, [{"weight": rng.choice([-1, 1], (4, 6))}], {"weight": rng.choice([-1, 1], (3, 4))}
    )
    model = _with_quantizer(base, [128] * 6)
    path, image = tmp_path / "m.json", tmp_path / "x.npy"
    save_model(model, path)
    raw = np.array([120, 130, 200, 10, 127, 128])
    np.save(image, raw)
    at = ["--scheduler", client.scheduler.address]
    for cmd in (
        ["count", path, "--image", image, "--linf", 8],
        ["verify", path, "--image", image, "--linf", 8],
        ["radius", path, "--image", image, "--norm", "linf", "--max", 40],
        ["radius", path, "--image", image, "--epsilon", 0.2],
    ):
        code, out, err = run(*cmd, "--json")
        code2, out2, err2 = run(*cmd, *at, "--json")
        assert code == code2 and code in (0, 1), (err, err2)
        here, there = json.loads(out), json.loads(out2)
        for key in ("per_class", "per_class_images", "robust", "radius", "radius_upper"):
            assert here.get(key) == there.get(key), key
        if there.get("counterexample_image") is not None:
            w = np.array(there["counterexample_image"])
            assert np.abs(w - raw).max() <= 8
            assert classify(model, model.quantizer.quantize(w))[0] != there["label"]
