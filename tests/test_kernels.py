"""Fast inference paths equal the reference; bit-packing; Triton (interpreter, PTX); crosscheck."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn import Region
from bdd4bnn.analyses.crosscheck import crosscheck, wilson
from bdd4bnn.engines.bdd import BddPrepared
from bdd4bnn.kernels import block_thresholds, pack_bits, predict, unpack_bits
from bdd4bnn.kernels.triton_xnor import available as have_triton
from bdd4bnn.model import BNN
from bdd4bnn.semantics import block_forward, classify

from .conftest import ROOT, bnns


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.integers(1, 5), st.randoms())
def test_pack_round_trip(n, rows, rnd):
    x = np.array([[rnd.choice([-1, 1]) for _ in range(n)] for _ in range(rows)], dtype=np.int8)
    p = pack_bits(x)
    assert p.dtype == np.uint64 and p.shape == (rows, (n + 63) // 64)
    assert (unpack_bits(p, n) == x).all()
    if n % 64:  # padding bits are zero
        assert (p[:, -1] >> np.uint64(n % 64) == 0).all()


@settings(max_examples=120, deadline=None)
@given(bnns(max_inputs=40, max_width=20), st.randoms())
def test_every_cpu_path_equals_reference(model, rnd):
    x = np.array(
        [[rnd.choice([-1, 1]) for _ in range(model.input_size)] for _ in range(40)], dtype=np.int8
    )
    for block in model.blocks:
        th = block_thresholds(block)
        assert (
            th.apply(x.astype(np.int32) @ block.weight.T.astype(np.int32))
            == block_forward(block, x)
        ).all()
        x_next = block_forward(block, x)
        x = x_next
    xs = np.array(
        [[rnd.choice([-1, 1]) for _ in range(model.input_size)] for _ in range(40)], dtype=np.int8
    )
    ref = classify(model, xs)
    for path in ("int8", "float32", "packed", "auto"):
        assert (predict(model, xs, path) == ref).all(), path


TRITON_CHECK = """
import numpy as np
from bdd4bnn.model import BNN
from bdd4bnn.kernels import predict
from bdd4bnn.semantics import classify
rng = np.random.default_rng(0)
for n, widths, vals in [(70, [9, 5], [-1, 1]), (130, [17], [-1, 0, 1]), (5, [3], [-1, 1])]:
    sizes = [n] + widths
    blocks = [{"weight": rng.choice(vals, (b, a)), "bias": rng.normal(size=b),
               "bn": {"gamma": rng.normal(size=b), "beta": rng.normal(size=b),
                      "mean": rng.normal(size=b), "var": rng.random(b) + 0.5}}
              for a, b in zip(sizes, sizes[1:])]
    m = BNN.build(n, blocks, {"weight": rng.choice(vals, (4, sizes[-1]))})
    x = rng.choice([-1, 1], (37, n)).astype(np.int8)
    assert (predict(m, x, "triton") == classify(m, x)).all(), n
print("ok")
"""


@settings(max_examples=120, deadline=None)
@given(bnns(max_inputs=30, max_width=12), st.randoms())
def test_dense_tail_scores_equal_reference(model, rnd):
    """DenseTail's full and incremental passes give the reference's output scores, for rows
    near a reference row and for rows unrelated to it."""
    from bdd4bnn.kernels.dense_tail import dense_tail

    x = np.array(
        [[rnd.choice([-1, 1]) for _ in range(model.input_size)] for _ in range(30)], dtype=np.int8
    )
    h1 = block_forward(model.blocks[0], x)
    h = h1
    for block in model.blocks[1:]:
        h = block_forward(block, h)
    want = h.astype(np.float64) @ model.output.weight.T.astype(np.float64) + model.output.bias
    tail = dense_tail(model)
    fired = h1 > 0
    assert np.array_equal(tail.output_dots(fired) + model.output.bias, want)
    ref = fired[rnd.randrange(len(fired))]
    assert np.array_equal(tail.scores_near(fired, tail.reference(ref)), want)
    assert np.array_equal(tail.scores_near(fired[:0], tail.reference(ref)), want[:0])


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (Triton reads its settings at import)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, TRITON_DEFAULT_FP_FUSION="1", **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(not have_triton(), reason="triton not installed")
def test_triton_kernel_under_the_interpreter():
    proc = _python(TRITON_CHECK, TRITON_INTERPRET="1")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


PTX_CHECK = """
import triton
from triton.backends.compiler import GPUTarget
from bdd4bnn.kernels.triton_xnor import kernel
sig = {"x_ptr": "*i64", "w_ptr": "*i64", "m_ptr": "*i64", "nnz_ptr": "*i32",
       "sign_ptr": "*i32", "bound_ptr": "*i32", "out_ptr": "*i8", "N": "i32", "M": "i32",
       "WD": "i32", "BLOCK_N": "constexpr", "BLOCK_M": "constexpr", "BLOCK_W": "constexpr"}
src = triton.compiler.ASTSource(fn=kernel, signature=sig,
                                constexprs={"BLOCK_N": 16, "BLOCK_M": 16, "BLOCK_W": 4})
ptx = triton.compile(src, target=GPUTarget("cuda", 90, 32)).asm["ptx"]
print("popc.b64" in ptx)
"""


@pytest.mark.skipif(not have_triton(), reason="triton not installed")
def test_kernel_compiles_to_native_popc_for_sm90():
    proc = _python(PTX_CHECK)
    if proc.returncode != 0:
        pytest.skip(f"triton cannot compile for sm_90 here: {proc.stderr.strip()[-300:]}")
    assert proc.stdout.strip() == "True"  # the SWAR popcount became the hardware popc


@pytest.mark.gpu
def test_triton_on_cuda():
    torch = pytest.importorskip("torch")
    if not (have_triton() and torch.cuda.is_available()):
        pytest.skip("no CUDA GPU")
    rng = np.random.default_rng(1)
    m = BNN.build(
        784,
        [{"weight": rng.choice([-1, 1], (100, 784))}],
        {"weight": rng.choice([-1, 1], (10, 100))},
    )
    x = rng.choice([-1, 1], (5000, 784)).astype(np.int8)
    assert (predict(m, x, "triton") == classify(m, x)).all()


def test_wilson_interval():
    lo, hi = wilson(50, 100, 1.96)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 10, 1.96)[0] == 0.0


def small_case():
    rng = np.random.default_rng(2)
    m = BNN.build(
        14,
        [{"weight": rng.choice([-1, 1], (6, 14)), "bias": rng.normal(size=6)}],
        {"weight": rng.choice([-1, 1], (3, 6))},
    )
    return m, Region.hamming(rng.choice([-1, 1], 14), 5)


def test_crosscheck_exhaustive_and_sampled_are_consistent():
    model, region = small_case()
    ex = crosscheck(model, region, exhaustive=True)
    assert ex.consistent and ex.observed == ex.formal and sum(ex.observed) == region.size
    sm = crosscheck(model, region, samples=20000, seed=3)
    assert sm.consistent and sum(sm.observed) == 20000 and len(sm.intervals) == 3


def test_crosscheck_detects_a_wrong_formal_answer(monkeypatch):
    model, region = small_case()
    real = BddPrepared.counts

    def wrong(*args, **kwargs):
        got = real(*args, **kwargs)
        return [got[0] + 200, got[1] - 200, got[2]]

    monkeypatch.setattr(BddPrepared, "counts", wrong)
    assert crosscheck(model, region, exhaustive=True).consistent is False
    assert crosscheck(model, region, samples=20000).consistent is False


def test_cli_crosscheck(tmp_path):
    from click.testing import CliRunner

    from bdd4bnn.cli import main
    from bdd4bnn.formats import save_model

    model, region = small_case()
    save_model(model, tmp_path / "m.json")
    (tmp_path / "x.txt").write_text(" ".join(str(int(v)) for v in region.center))
    runner = CliRunner()
    base = [
        "crosscheck",
        str(tmp_path / "m.json"),
        "--input",
        str(tmp_path / "x.txt"),
        "--radius",
        "4",
    ]
    res = runner.invoke(main, [*base, "--exhaustive", "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0 and doc["consistent"] and doc["observed"] == doc["formal"]
    res = runner.invoke(main, [*base, "--samples", "5000", "--path", "packed"])
    assert res.exit_code == 0 and "consistent" in res.stdout
    res = runner.invoke(main, base)
    assert res.exit_code == 2 and "--samples N or --exhaustive" in res.stderr


def test_int8_exact_argmax_both_branches():
    pytest.importorskip("torch")
    from bdd4bnn.kernels.int8_torch import Int8Net

    trap = BNN.build(
        2, [{"weight": [[1, 1]], "bias": [5.0]}], {"weight": [[1], [-1]], "bias": [0.1, 2.1]}
    )
    net = Int8Net(trap)
    assert not net.float_exact  # 1 + 0.1 and -1 + 2.1 round to the same double
    x = np.array([[1, 1], [-1, -1]] * 10, dtype=np.int8)
    assert (net.predict(x) == classify(trap, x)).all() and net.predict(x)[0] == 1
    dyadic = BNN.build(
        2, [{"weight": [[1, 1]], "bias": [5.0]}], {"weight": [[1], [-1]], "bias": [0.5, 2.5]}
    )
    net = Int8Net(dyadic)
    assert net.float_exact
    assert (net.predict(x) == classify(dyadic, x)).all() and net.predict(x)[0] == 0  # tie
