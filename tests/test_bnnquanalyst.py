"""BNNQuanalyst's models load as they are and give its published counts."""

from __future__ import annotations

from bdd4bnn import Region, count, load_input, load_model, verify
from bdd4bnn.semantics import classify

from .conftest import need_shared, oracle_counts


def test_a1_counts_match_bnnquanalyst():
    folder = need_shared("peers", "bnnquanalyst", "models", "mnist_bnn_2_blk_100_50_20_10")
    model = load_model(folder)
    assert model.layer_sizes == [100, 50, 20, 10]
    assert all(b.bn is not None and b.bn.eps == 0.0 for b in model.blocks)
    u = load_input(need_shared("peers", "bnnquanalyst", "inputs", "instance_0_100.txt"), 100)
    res = count(model, Region.hamming(u, 3))
    assert res.per_class == [163421, 0, 916, 0, 0, 96, 113, 0, 2205, 0]
    assert res.adversarial == 3330


def test_small_radius_matches_enumeration_on_other_models():
    for name, inst, n in [
        ("mnist_bnn_3_blk_25_25_25_20_10", "instance_0_25.txt", 25),
        ("mnist_bnn_1_blk_64_10_10", "instance_0_64.txt", 64),
    ]:
        model = load_model(need_shared("peers", "bnnquanalyst", "models", name))
        u = load_input(need_shared("peers", "bnnquanalyst", "inputs", inst), n)
        res = count(model, Region.hamming(u, 2))
        assert res.per_class == oracle_counts(model, u, list(range(n)), 2)


def test_free_pixel_region_on_784_model():
    model = load_model(need_shared("peers", "bnnquanalyst", "models", "mnist_bnn_1_blk_784_100_10"))
    u = load_input(need_shared("peers", "bnnquanalyst", "inputs", "instance_0_784.txt"), 784)
    free = [
        int(t)
        for t in need_shared("peers", "bnnquanalyst", "inputs", "fixed_set_file_random_784_10.txt")
        .read_text()
        .split()
    ]
    region = Region.fixed(u, free)
    res = count(model, region)
    points = list(region.iter_points())
    import numpy as np

    labels = classify(model, np.concatenate(points))
    assert res.per_class == np.bincount(labels, minlength=10).tolist()
    assert verify(model, region).robust == res.robust
