"""Weight faults against brute force: every flip set of tiny networks enumerated."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bdd4bnn.analyses.faults import apply_flips, fault_counts, fault_rate, min_flips
from bdd4bnn.errors import RegionError
from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify

from .conftest import bnns


def _positions(model: BNN, layers=None):
    """Every stored weight bit: (layer, row, column) for binary models, and (layer, row,
    column, bit) for ternary ones (two int2 bits per weight)."""
    mats = [b.weight for b in model.blocks] + [model.output.weight]
    bits = [()] if _binary(model) else [(0,), (1,)]
    return [
        (li, r, c, *b)
        for li, w in enumerate(mats)
        if layers is None or li in layers
        for r in range(w.shape[0])
        for c in range(w.shape[1])
        for b in bits
    ]


def _binary(model: BNN) -> bool:
    return (
        not any((b.weight == 0).any() for b in model.blocks)
        and not (model.output.weight == 0).any()
    )


def _int2_reference(model: BNN, flips) -> BNN:
    """Independent int2 fault semantics: the weight's two's-complement pattern, the bit
    XORed, read back by sign extension."""
    from dataclasses import replace

    mats = [b.weight.astype(np.int64).copy() for b in model.blocks]
    mats.append(model.output.weight.astype(np.int64).copy())
    for layer, row, col, bit in flips:
        pattern = int(mats[layer][row, col]) % 4 ^ (1 << bit)
        mats[layer][row, col] = pattern - 4 if pattern >= 2 else pattern
    blocks = tuple(replace(b, weight=m) for b, m in zip(model.blocks, mats, strict=False))
    return replace(model, blocks=blocks, output=replace(model.output, weight=mats[-1]))


def _faulty(model: BNN, flips) -> BNN:
    return (
        apply_flips(model, flips)
        if not flips or len(flips[0]) == 3
        else _int2_reference(model, flips)
    )


def _brute(model, x, K, layers=None):
    pos = _positions(model, layers)
    per = np.zeros((model.num_classes, K + 1), dtype=object)
    for k in range(K + 1):
        for flips in itertools.combinations(pos, k):
            per[int(classify(_faulty(model, flips), x)), k] += 1
    return per


def _small(model: BNN) -> bool:
    return len(_positions(model)) <= 40


@settings(max_examples=40, deadline=None)
@given(bnns(max_inputs=4, max_blocks=2, max_width=4), st.data())
def test_fault_counts_and_min_equal_brute_force(model, data):
    assume(_small(model))
    x = np.array(
        data.draw(
            st.lists(st.sampled_from([-1, 1]), min_size=model.input_size, max_size=model.input_size)
        ),
        dtype=np.int8,
    )
    n_layers = len(model.blocks) + 1
    layers = data.draw(st.none() | st.sets(st.integers(0, n_layers - 1), min_size=1))
    K = min(3, len(_positions(model, layers)))
    res = fault_counts(model, x, K, layers=None if layers is None else sorted(layers))
    want = _brute(model, x, K, layers)
    assert [list(r) for r in res.per_class] == [list(r) for r in want]
    label = int(classify(model, x))
    m = min_flips(model, x, K, layers=None if layers is None else sorted(layers))
    changed = [
        sum(want[c][k] for c in range(model.num_classes) if c != label) for k in range(K + 1)
    ]
    first = next((k for k, v in enumerate(changed) if v), None)
    assert m["min_flips"] == first
    if first is not None:
        flips = [tuple(f) for f in m["flips"]]
        assert len(set(flips)) == first
        assert int(classify(_faulty(model, flips), x)) == m["faulted_class"] != label


@settings(max_examples=25, deadline=None)
@given(bnns(max_inputs=3, max_blocks=2, max_width=2), st.data())
def test_fault_rate_interval_contains_the_exact_rate(model, data):
    pos = _positions(model)
    assume(len(pos) <= 14)
    x = np.array(
        data.draw(
            st.lists(st.sampled_from([-1, 1]), min_size=model.input_size, max_size=model.input_size)
        ),
        dtype=np.int8,
    )
    p = data.draw(st.sampled_from([Fraction(1, 1000), Fraction(1, 20), Fraction(3, 10)]))
    keep = data.draw(st.none() | st.integers(0, model.num_classes - 1))
    ref = int(classify(model, x)) if keep is None else keep
    exact = Fraction(0)
    for k in range(len(pos) + 1):
        bad = sum(
            int(classify(_faulty(model, f), x)) != ref for f in itertools.combinations(pos, k)
        )
        exact += bad * p**k * (1 - p) ** (len(pos) - k)
    res = fault_rate(model, x, float(p), keep=keep, width=1e-9)
    assert res["status"] == "ok" and res["keep"] == ref
    assert res["lo"] <= exact <= res["hi"]
    assert res["hi"] - res["lo"] <= 1e-6


def test_a_mutated_dot_change_is_caught(monkeypatch):
    """An off-by-one in a fault's dot change (D − 2a + 2b → D − 2a + 2b + 1) must fail."""
    import bdd4bnn.analyses.faults as faults

    rng = np.random.default_rng(3)
    model = BNN.build(
        5,
        [{"weight": rng.choice([-1, 1], (4, 5)), "bias": [0.0, 1.0, -1.0, 2.0]}],
        {"weight": rng.choice([-1, 1], (3, 4))},
    )
    mismatch = 0
    for seed in range(20):
        x = np.random.default_rng(seed).choice([-1, 1], 5).astype(np.int8)
        good = fault_counts(model, x, 2).per_class
        real = faults.neuron_fires
        monkeypatch.setattr(faults, "neuron_fires", lambda b, j, d, real=real: real(b, j, d + 1))
        bad = fault_counts(model, x, 2).per_class
        monkeypatch.setattr(faults, "neuron_fires", real)
        mismatch += good != bad and [list(r) for r in good] == [
            list(r) for r in _brute(model, x, 2)
        ]
    assert mismatch > 0


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda m, x: fault_rate(m, x, float("nan")), "ber"),
        (lambda m, x: fault_rate(m, x, 1.5), "ber"),
        (lambda m, x: fault_rate(m, x, "0.1"), "ber"),
        (lambda m, x: fault_counts(m, x, -1), "flips"),
        (lambda m, x: fault_counts(m, x, 10**6), "flips"),
        (lambda m, x: fault_counts(m, x, 1, layers=[5]), "layer"),
        (lambda m, x: min_flips(m, x, 1, target=9), "target"),
    ],
)
def test_bad_fault_arguments_are_one_line_errors(call, needle):
    model = BNN.build(3, [{"weight": np.ones((2, 3))}], {"weight": np.array([[1, 1], [1, -1]])})
    with pytest.raises(RegionError, match=needle):
        call(model, np.array([1, -1, 1], dtype=np.int8))


def test_counts_add_up_on_the_shipped_model():
    from bdd4bnn.formats import load_model

    from .conftest import ROOT

    model = load_model(ROOT / "models" / "mnist_10x10_100-50-20-10.json")
    x = np.random.default_rng(0).choice([-1, 1], 100).astype(np.int8)
    res = fault_counts(model, x, 2)
    total = sum(b.weight.size for b in model.blocks) + model.output.weight.size
    assert [sum(r[k] for r in res.per_class) for k in range(3)] == [
        math.comb(total, k) for k in range(3)
    ]


def test_cli_faults_json_and_bad_input(tmp_path):
    import json

    from bdd4bnn.formats import save_model

    from .test_cli import run

    rng = np.random.default_rng(5)
    model = BNN.build(
        6,
        [{"weight": rng.choice([-1, 1], (4, 6)), "bias": [0.5, -0.5, 0.0, 1.0]}],
        {"weight": rng.choice([-1, 1], (3, 4))},
    )
    save_model(model, tmp_path / "m.json")
    x = rng.choice([-1, 1], 6).astype(np.int8)
    (tmp_path / "x.txt").write_text(" ".join(map(str, x)))
    args = [tmp_path / "m.json", "--input", tmp_path / "x.txt", "--json"]
    code, out, _ = run("faults", "count", *args, "--flips", 2)
    doc = json.loads(out)
    want = _brute(model, x, 2)
    assert code == 0 and doc["per_class"] == [list(r) for r in want]
    assert doc["total"] == [math.comb(36, k) for k in range(3)]
    assert doc["changed"] == [
        sum(want[c][k] for c in range(3) if c != doc["label"]) for k in range(3)
    ]
    code, out, _ = run("faults", "min", *args, "--max", 3)
    doc = json.loads(out)
    assert code == 0 and set(doc) >= {"min_flips", "flips", "faulted_class"}
    code, out, _ = run("faults", "rate", *args, "--ber", "0.01")
    doc = json.loads(out)
    assert code == 0 and 0 <= doc["lo"] <= doc["hi"] <= 1
    for bad in (
        ["rate", "--ber", "nan"],
        ["rate", "--ber", "2"],
        ["count", "--flips", "99"],
        ["count", "--flips", "1", "--layers", "7"],
        ["count", "--flips", "-1"],
        ["count", "--flips", "1", "--storage", "int4"],
        ["rate", "--ber", "0.1", "--keep", "3"],
        ["rate", "--ber", "0.1", "--keep", "-1"],
    ):
        code, _, err = run("faults", bad[0], *args, *bad[1:])
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # the same model stored as int2: two bits a weight, witnesses name the bit
    code, out, _ = run("faults", "count", *args, "--flips", 1, "--storage", "int2")
    doc = json.loads(out)
    assert code == 0 and doc["storage"] == "int2" and doc["total"] == [1, 72]
    code, out, _ = run("faults", "min", *args, "--max", 2, "--storage", "int2")
    doc = json.loads(out)
    if doc["min_flips"] is not None:
        assert all(len(f) == 4 for f in doc["flips"])
        assert int(classify(_faulty(model, doc["flips"]), x)) == doc["faulted_class"]
    code, out, _ = run("faults", "rate", *args, "--ber", "0.1", "--keep", "2")
    doc = json.loads(out)
    assert code == 0 and doc["keep"] == 2


def test_fault_rate_honours_its_timeout():
    import time

    from bdd4bnn.formats import load_model

    from .conftest import ROOT

    model = load_model(ROOT / "models" / "mnist_28x28_784-100-10.json")
    x = np.random.default_rng(2).choice([-1, 1], 784).astype(np.int8)
    t0 = time.perf_counter()
    res = fault_rate(model, x, 0.02, timeout=0.5, width=1e-12)
    assert time.perf_counter() - t0 <= 1.5
    assert res["status"] == "unknown" and 0 <= res["lo"] <= res["hi"] <= 1


def test_simulated_accuracy_overlaps_the_exact_interval():
    from bdd4bnn.analyses.faults import exact_accuracy, simulate

    rng = np.random.default_rng(8)
    model = BNN.build(
        12,
        [{"weight": rng.choice([-1, 1], (6, 12)), "bias": rng.normal(size=6)}],
        {"weight": rng.choice([-1, 1], (3, 6))},
    )
    x = rng.choice([-1, 1], (40, 12)).astype(np.int8)
    y = classify(model, x)
    y[:5] = (y[:5] + 1) % 3  # some misclassified inputs, which faults may make correct
    sim = simulate(model, x, y, [0.02, 0.2], trials=400, path="float32", confidence=0.999)
    for row in sim["curve"]:
        ex = exact_accuracy(model, x, y, row["ber"], width=1e-7)
        assert ex["status"] == "ok" and ex["lo"] <= ex["hi"]
        assert row["lo"] <= ex["hi"] and ex["lo"] <= row["hi"], (row, ex)


def test_cli_faults_simulate_json_and_png(tmp_path):
    import json

    from bdd4bnn.formats import save_model

    from .test_cli import run

    rng = np.random.default_rng(9)
    model = BNN.build(
        9, [{"weight": rng.choice([-1, 1], (4, 9))}], {"weight": rng.choice([-1, 1], (3, 4))}
    )
    save_model(model, tmp_path / "m.json")
    (tmp_path / "x.txt").write_text(" ".join(map(str, rng.choice([-1, 1], 9))))
    code, out, err = run(
        "faults",
        "simulate",
        tmp_path / "m.json",
        "--input",
        tmp_path / "x.txt",
        "--ber",
        "0.01",
        "--ber",
        "0.1",
        "--trials",
        50,
        "--exact",
        "--path",
        "float32",
        "--png",
        tmp_path / "c.png",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [r["ber"] for r in doc["curve"]] == [0.01, 0.1] and len(doc["exact"]) == 2
    assert (tmp_path / "c.png").stat().st_size > 0
    code, _, err = run(
        "faults", "simulate", tmp_path / "m.json", "--input", tmp_path / "x.txt", "--ber", "nan"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_batch_fault_tasks_equal_direct_analyses(tmp_path):
    from bdd4bnn.batch import ResultStore, load_job, run_job
    from bdd4bnn.batch.jobfile import JobError
    from bdd4bnn.formats import load_input, load_model

    from .test_batch import write_job

    body = (
        "models = ['m.json']\ninputs = ['x0.txt', 'x1.txt']\nanalyses = ['faults']\n"
        "ber = [0.01, 0.001]\nflips = 2\ntime_limit = 60\n"
    )
    job_path, _ = write_job(tmp_path, body, n=10)
    job = load_job(job_path)
    assert len(job.tasks) == 4
    with ResultStore(tmp_path / "r.sqlite") as store:
        s = run_job(job, store)
        rows = store.rows()
    assert s["done"] == 4
    model = load_model(tmp_path / "m.json")
    for r in rows:
        x = load_input(tmp_path / r["input"], 10)
        ber = float(r["region"].split("=")[1])
        want = fault_rate(model, x, ber)
        assert r["answer"]["lo"] == pytest.approx(want["lo"], abs=1e-12)
        assert r["answer"]["hi"] == pytest.approx(want["hi"], abs=1e-12)
        assert r["answer"]["min_flips"] == min_flips(model, x, 2)["min_flips"]
    for bad in (
        "ber = [1.5]",
        "ber = [nan]",
        "flips = -1",
        "flips = 'x'",
        "width = 0",
        "width = nan",
        "width = 2.0",
        "width = 'x'",
    ):
        (tmp_path / "bad.toml").write_text(body.replace("flips = 2", "") + bad + "\n")
        with pytest.raises(JobError):
            load_job(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(body.replace("ber = [0.01, 0.001]\n", ""))
    with pytest.raises(JobError, match="ber"):
        load_job(tmp_path / "bad.toml")


def _exact_rate(model, x, p):
    pos = _positions(model)
    label = int(classify(model, x))  # P(decision ≠ the fault-free one)
    exact = Fraction(0)
    for k in range(len(pos) + 1):
        bad = sum(
            int(classify(_faulty(model, f), x)) != label for f in itertools.combinations(pos, k)
        )
        exact += bad * p**k * (1 - p) ** (len(pos) - k)
    return exact


def _four_class_model(seed):
    rng = np.random.default_rng(seed)
    return BNN.build(
        3,
        [{"weight": rng.choice([-1, 1], (2, 3)), "bias": rng.integers(-2, 3, 2).astype(float)}],
        {"weight": rng.choice([-1, 1], (4, 2)), "bias": rng.normal(0, 1, 4)},
    )


def test_fault_rate_joint_and_pair_programmes_equal_brute_force(monkeypatch):
    """Several classes near the label: the pairwise programmes and the joint one both run,
    and the interval holds the brute-force rate; a threshold off by one is caught."""
    import bdd4bnn.analyses.faults as faults

    calls = {"joint": 0}
    real_joint = faults._Rater._joint

    def spy(self, *a):
        calls["joint"] += 1
        return real_joint(self, *a)

    monkeypatch.setattr(faults._Rater, "_joint", spy)
    cases = []
    for seed in range(12):
        model = _four_class_model(seed)
        x = np.random.default_rng(100 + seed).choice([-1, 1], 3).astype(np.int8)
        for p in (Fraction(1, 20), Fraction(3, 10)):
            exact = _exact_rate(model, x, p)
            res = fault_rate(model, x, float(p), width=1e-9)
            assert res["status"] == "ok" and res["lo"] <= exact <= res["hi"]
            assert res["hi"] - res["lo"] <= 1e-6
            cases.append((model, x, p, exact))
    assert calls["joint"] > 0
    real_k = faults.output_thresholds

    def off_by_one(out, **kw):
        k = real_k(out, **kw)
        return k + 1 - np.eye(len(k), dtype=k.dtype)

    monkeypatch.setattr(faults, "output_thresholds", off_by_one)
    wrong = 0
    for model, x, p, exact in cases:
        res = fault_rate(model, x, float(p), width=1e-9)
        wrong += not res["lo"] <= exact <= res["hi"]
    assert wrong > 0


def test_ternary_int2_faults_equal_brute_force_and_a_wrong_decoding_is_caught(monkeypatch):
    """Ternary weights stored as int2 (two bits each; 10 reads −2): counts, min and rates
    equal the brute force over every bit-flip set; reading 10 as +2 is caught."""
    import bdd4bnn.analyses.faults as faults

    def model_of(seed):
        rng = np.random.default_rng(seed)
        return BNN.build(
            3,
            [{"weight": rng.choice([-1, 0, 1], (1, 3)), "bias": [0.0]}],
            {"weight": rng.choice([-1, 0, 1], (3, 1)), "bias": rng.normal(0, 1, 3)},
        )

    cases = []
    for seed in range(8):
        model = model_of(seed)
        if _binary(model):
            continue
        x = np.random.default_rng(seed).choice([-1, 1], 3).astype(np.int8)
        want = _brute(model, x, 2)
        res = fault_counts(model, x, 2)
        assert res.extra["storage"] == "int2" and res.bits == 2 * 6
        assert [list(r) for r in res.per_class] == [list(r) for r in want]
        exact = _exact_rate(model, x, Fraction(1, 10))
        r = fault_rate(model, x, 0.1, width=1e-9)
        assert r["lo"] <= exact <= r["hi"] and r["hi"] - r["lo"] <= 1e-6
        m = min_flips(model, x, 2)
        if m["min_flips"] is not None:
            assert all(len(f) == 4 for f in m["flips"])
            assert int(classify(_faulty(model, m["flips"]), x)) == m["faulted_class"]
        cases.append((model, x, want, exact))
    assert len(cases) >= 4
    monkeypatch.setitem(faults._INT2, 2, 2)
    faults._int2_group_pmf.cache_clear()
    wrong = 0
    for model, x, want, exact in cases:
        got = fault_counts(model, x, 2).per_class
        r = fault_rate(model, x, 0.1, width=1e-9)
        wrong += [list(g) for g in got] != [list(w) for w in want]
        wrong += not r["lo"] <= exact <= r["hi"]
    faults._int2_group_pmf.cache_clear()
    assert wrong > 0


def test_binary_storage_of_a_ternary_model_is_refused():
    model = BNN.build(2, [{"weight": [[1, 1], [1, -1]]}], {"weight": [[1, 0], [-1, 1]]})
    with pytest.raises(RegionError, match="ternary model cannot be stored in binary"):
        fault_counts(model, [1, 1], 1, storage="binary")
    with pytest.raises(RegionError, match="storage must be one of"):
        fault_rate(model, [1, 1], 0.1, storage="int4")


def test_batch_expected_accuracy_is_the_mean_of_p_correct(tmp_path):
    """Labelled images (mnist_test): each fault task reports P(correct) (with keep = the true
    class when the fault-free decision is wrong); the report's expected accuracy is their
    mean, and a misclassified image's P(correct) is far below the loose [0, P(changed)]."""
    from bdd4bnn.batch import ResultStore, load_job, run_job
    from bdd4bnn.batch.report import write_report
    from bdd4bnn.data import load_mnist, model_inputs
    from bdd4bnn.formats import save_model

    from .conftest import need_shared

    need_shared("data", "mnist")
    rng = np.random.default_rng(5)
    model = BNN.build(
        784,
        [{"weight": rng.choice([-1, 1], (6, 784))}],
        {"weight": rng.choice([-1, 1], (4, 6)), "bias": [0.0, 0.5, -0.5, 0.25]},
        quantizer={"raw": "uint8", "threshold": [128] * 784},
    )
    save_model(model, tmp_path / "m.json")
    (tmp_path / "job.toml").write_text(
        'models = ["m.json"]\nmnist_test = [0, 1, 2, 3, 4, 5]\nanalyses = ["faults"]\n'
        "ber = [0.05]\nwidth = 1e-4\n"
    )
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert run_job(load_job(tmp_path / "job.toml"), store)["failed"] == 0
        rows = store.rows()
    images, labels = load_mnist("test")
    xs, _ = model_inputs(model, images[:6])
    want_lo = want_hi = 0.0
    for r in rows:
        i = int(r["input"].rsplit("-", 1)[1])
        if labels[i] >= model.num_classes:  # never the decision
            direct = {"lo": 1.0, "hi": 1.0}
        else:
            direct = fault_rate(model, xs[i], 0.05, keep=int(labels[i]), width=1e-4)
        assert r["answer"]["p_correct"] == pytest.approx([1 - direct["hi"], 1 - direct["lo"]])
        want_lo += 1 - direct["hi"]
        want_hi += 1 - direct["lo"]
    res = write_report(rows, tmp_path / "rep")
    (acc,) = res["expected_accuracy"]
    assert acc["inputs"] == 6 and acc["ber"] == 0.05
    assert acc["lo"] == pytest.approx(want_lo / 6) and acc["hi"] == pytest.approx(want_hi / 6)
    assert acc["hi"] - acc["lo"] <= 1e-4
    assert any(r["answer"]["p_correct"] == [0.0, 0.0] for r in rows)
    assert any(0 < r["answer"]["p_correct"][0] < 0.5 and not r["answer"]["correct"] for r in rows)


def test_int2_rate_with_trimmed_tails_contains_the_exact_rational():
    """60 ternary weights into one neuron that decides the class: the int2 law's far tails
    are trimmed (below 1e-30), and the interval still holds the exact probability, computed
    here with fractions, weight by weight."""
    from bdd4bnn.semantics import neuron_fires

    rng = np.random.default_rng(11)
    n = 60
    model = BNN.build(
        n,
        [{"weight": rng.choice([-1, 0, 1], (1, n)), "bias": [0.5]}],
        {"weight": [[1], [-1]]},
    )
    x = rng.choice([-1, 1], n).astype(np.int8)
    p = Fraction(1, 10)
    decode = {0: 0, 1: 1, 2: -2, 3: -1}
    law = {0: Fraction(1)}  # exact law of the neuron's dot change
    for w, xi in zip(model.blocks[0].weight[0].tolist(), x.tolist(), strict=True):
        one: dict[int, Fraction] = {}
        for mask in range(4):
            k = bin(mask).count("1")
            d = (decode[(w % 4) ^ mask] - w) * xi
            one[d] = one.get(d, Fraction(0)) + p**k * (1 - p) ** (2 - k)
        new: dict[int, Fraction] = {}
        for a, pa in law.items():
            for b, pb in one.items():
                new[a + b] = new.get(a + b, Fraction(0)) + pa * pb
        law = new
    dot = int(model.blocks[0].weight[0].astype(int) @ x.astype(int))
    orig = bool(neuron_fires(model.blocks[0], 0, np.array([dot]))[0])
    exact = sum(
        (
            pr
            for d, pr in law.items()
            if bool(neuron_fires(model.blocks[0], 0, np.array([dot + d]))[0]) != orig
        ),
        Fraction(0),
    )
    res = fault_rate(model, x, float(p), layers=[0], width=1e-12)
    assert res["storage"] == "int2" and res["lo"] <= exact <= res["hi"]
    assert res["hi"] - res["lo"] <= 1e-8  # the outward widening: 1e-9 relative
