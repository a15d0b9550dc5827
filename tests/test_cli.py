"""The command line: outputs, exit codes, and one-line errors on every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from bdd4bnn.cli import main
from bdd4bnn.formats import load_model, model_to_dict, save_model
from bdd4bnn.model import BNN
from bdd4bnn.semantics import classify

from .conftest import PEERS, oracle_counts


def tiny_doc():
    return {
        "format": "bdd4bnn.bnn",
        "version": 1,
        "input_size": 4,
        "blocks": [
            {
                "weight": [[1, -1, 1, 1], [-1, -1, 1, 1], [1, 1, 1, -1]],
                "bias": [0.0, 0.5, -1.0],
                "bn": {
                    "gamma": [1.0, -2.0, 0.5],
                    "beta": [0.0, 0.1, -0.2],
                    "mean": [0.0, 1.0, -1.0],
                    "var": [1.0, 1.0, 2.0],
                    "eps": 1e-5,
                },
            }
        ],
        "output": {"weight": [[1, -1, 1], [-1, 1, 1], [1, 1, -1]], "bias": [0.0, 0.0, 0.5]},
    }


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "m.json"
    model.write_text(json.dumps(tiny_doc()))
    inp = tmp_path / "x.txt"
    inp.write_text("1 0 1 1\n")
    return tmp_path, model, inp


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_count_json_matches_brute_force(files):
    _, model, inp = files
    code, out, _ = run("count", model, "--input", inp, "--radius", 2, "--json")
    assert code == 0
    doc = json.loads(out)
    net = load_model(model)
    u = np.array([1, -1, 1, 1])
    assert doc["per_class"] == oracle_counts(net, u, list(range(4)), 2)
    assert doc["total"] == 11 and doc["label"] == int(classify(net, u))
    assert set(doc) >= {"label", "total", "per_class", "adversarial", "robust", "seconds"}


def test_verify_exit_codes_and_counterexample(files):
    tmp, model, inp = files
    code, out, _ = run("verify", model, "--input", inp, "--radius", 0, "--json")
    assert code == 0 and json.loads(out)["robust"] is True
    code, out, _ = run("verify", model, "--input", inp, "--radius", 4, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["robust"] is False
    net = load_model(model)
    assert classify(net, np.array(doc["counterexample"])) == doc["counterexample_class"]
    free = tmp / "free.txt"
    free.write_text("0, 2")
    code, out, _ = run("count", model, "--input", inp, "--free", free)
    assert code == 0 and "4 inputs" in out


def test_human_output_and_info(files):
    _, model, inp = files
    code, out, _ = run("count", model, "--input", inp, "--radius", 1)
    assert code == 0 and "adversarial:" in out and "label:" in out
    code, out, _ = run("info", model, "--json")
    doc = json.loads(out)
    assert (
        code == 0 and doc["layer_sizes"] == [4, 3, 3] and doc["parameters"] == 12 + 3 + 12 + 9 + 3
    )


def test_unknown_exit_code_3(files):
    _, model, inp = files
    code, out, _ = run(
        "count", model, "--input", inp, "--radius", 2, "--max-nodes", 1, "--engine", "bdd", "--json"
    )
    assert code == 3 and json.loads(out)["status"] == "unknown"


def _mutate(doc, path, value):
    d = doc
    for key in path[:-1]:
        d = d[key]
    if value is KeyError:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return doc


MODEL_CASES = [
    (("format",), "other", "format"),
    (("version",), 3, "version"),
    (("version",), True, "version"),
    (("input",), {"raw": "uint8", "threshold": 128}, "input: the input quantizer needs version 2"),
    (("blocks",), KeyError, "blocks: missing"),
    (("blocks", 0, "weight", 1, 2), 0.5, "blocks[0].weight[1][2]"),
    (("blocks", 0, "weight", 0, 0), 2, "blocks[0].weight[0][0]: weight must be -1, 0, +1"),
    (("blocks", 0, "weight", 0), [1, 1, 1], "blocks[0].weight"),
    (("blocks", 0, "bias"), [0.0, 1.0], "blocks[0].bias"),
    (("blocks", 0, "bias", 1), float("nan"), "blocks[0].bias[1]"),
    (("blocks", 0, "bn", "mean", 0), float("inf"), "blocks[0].bn.mean[0]"),
    (("blocks", 0, "bn", "var", 0), -1.0, "blocks[0].bn.var[0]"),
    (("blocks", 0, "bn", "gamma"), KeyError, "blocks[0].bn.gamma"),
    (("output", "weight"), [[1, 1], [1, 1], [1, 1]], "output.weight"),
    (("input_size",), 5, "blocks[0].weight"),
    (("input_size",), "four", "input_size"),
]


@pytest.mark.parametrize("path,value,needle", MODEL_CASES)
def test_malformed_model_one_line_error(tmp_path, path, value, needle):
    model = tmp_path / "bad.json"
    model.write_text(json.dumps(_mutate(tiny_doc(), list(path), value)))
    inp = tmp_path / "x.txt"
    inp.write_text("1 1 1 1")
    code, out, err = run("count", model, "--input", inp, "--radius", 1)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(model) in err and needle in err


def test_malformed_files(tmp_path, files):
    _, model, inp = files
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{not json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    bad_input = tmp_path / "bad_input.txt"
    bad_input.write_text("1 0 2 1")
    short_input = tmp_path / "short.txt"
    short_input.write_text("[1, 0, 1]")
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("1 0 -1 1")
    free_oob = tmp_path / "free_oob.txt"
    free_oob.write_text("0 9")
    free_dup = tmp_path / "free_dup.txt"
    free_dup.write_text("1 1")
    free_ok = tmp_path / "free_ok.txt"
    free_ok.write_text("0 1")
    cases = [
        (["count", tmp_path / "missing.json", "--input", inp, "--radius", 1], "missing.json"),
        (["count", bad_json, "--input", inp, "--radius", 1], "invalid JSON"),
        (["count", binary, "--input", inp, "--radius", 1], "bin.json"),
        (["count", tmp_path, "--input", inp, "--radius", 1], "not a model folder"),
        (["count", model, "--input", tmp_path / "nope.txt", "--radius", 1], "nope.txt"),
        (["count", model, "--input", bad_input, "--radius", 1], "value 2"),
        (["count", model, "--input", short_input, "--radius", 1], "expected 4 values"),
        (["count", model, "--input", mixed, "--radius", 1], "mixes 0 and -1"),
        (["count", model, "--input", inp, "--radius", 5], "radius 5 out of range 0..4"),
        (["verify", model, "--input", inp, "--radius", -1], "radius -1 out of range"),
        (["count", model, "--input", inp, "--free", free_oob], "entry 1"),
        (["count", model, "--input", inp, "--free", free_dup], "listed twice"),
        (
            ["count", model, "--input", inp, "--free", free_ok, "--radius", 9],
            "radius 9 out of range 0..2",
        ),
        (["count", model, "--input", inp, "--radius", 1, "--target", 7], "target class 7"),
        (["info", tmp_path / "missing.json"], "no such file"),
    ]
    for args, needle in cases:
        code, out, err = run(*args)
        assert code == 2, (args, out, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert needle in err, (needle, err)


def test_bnnquanalyst_folder_missing_csv(tmp_path):
    import shutil

    src = PEERS / "models" / "mnist_bnn_1_blk_64_10_10"
    if not src.exists():
        pytest.skip(f"{src} not found (set BDD4BNN_SHARED)")
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    (dst / "blk1" / "bn_var.csv").unlink()
    code, _, err = run("info", dst)
    assert code == 2 and "bn_var.csv: missing file" in err and err.count("\n") == 1


def test_region_needed(files):
    _, model, inp = files
    code, _, err = run("count", model, "--input", inp)
    assert code == 2 and "--radius" in err


def test_json_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    net = BNN.build(
        6,
        [
            {
                "weight": rng.choice([-1, 1], (4, 6)),
                "bias": rng.normal(size=4),
                "bn": {
                    "gamma": rng.normal(size=4),
                    "beta": rng.normal(size=4),
                    "mean": rng.normal(size=4),
                    "var": rng.random(4) + 0.1,
                    "eps": 1e-5,
                },
            }
        ],
        {"weight": rng.choice([-1, 1], (3, 4)), "bias": rng.normal(size=3)},
    )
    path = tmp_path / "net.json"
    save_model(net, path)
    again = load_model(path)
    assert model_to_dict(again)["blocks"] == model_to_dict(net)["blocks"]
    x = np.array(list(np.ndindex(*(2,) * 6))) * 2 - 1
    assert (classify(net, x) == classify(again, x)).all()


def test_console_script_no_traceback(tmp_path):
    """The installed entry point itself: a bad file gives one line and exit code 2."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "bdd4bnn.bnn", "version": 1}')
    proc = subprocess.run(
        [sys.executable, "-m", "bdd4bnn", "info", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "input_size: missing field" in proc.stderr


def test_explain_json_png_dot(tmp_path):
    rng = np.random.default_rng(2)
    net = BNN.build(
        16,
        [{"weight": rng.choice([-1, 1], (5, 16)), "bias": rng.normal(size=5)}],
        {"weight": rng.choice([-1, 1], (3, 5))},
    )
    model = tmp_path / "m.json"
    save_model(net, model)
    inp = tmp_path / "x.txt"
    inp.write_text(" ".join(str(v) for v in rng.choice([0, 1], 16)))
    png, dot = tmp_path / "e.png", tmp_path / "e.dot"
    code, out, err = run(
        "explain",
        model,
        "--input",
        inp,
        "--radius",
        3,
        "--count",
        2,
        "--png",
        png,
        "--dot",
        dot,
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert {"label", "explanations", "essential", "necessary", "seconds"} <= set(doc)
    assert png.read_bytes()[:4] == b"\x89PNG" and dot.read_text().startswith("strict digraph")
    code, out, _ = run("explain", model, "--input", inp, "--kind", "shortest")
    assert code == 0 and "explanation 1" in out
    code, _, err = run("explain", model, "--input", inp, "--kind", "shortest", "--engine", "sat")
    assert code == 2 and "need --engine bdd" in err
    bad = tmp_path / "x5.txt"
    bad.write_text("1 0 1 1 1")
    net5 = BNN.build(5, [{"weight": [[1] * 5]}], {"weight": [[1], [-1]]})
    save_model(net5, tmp_path / "m5.json")
    code, _, err = run("explain", tmp_path / "m5.json", "--input", bad, "--png", png)
    assert code == 2 and "square input" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_timeout_must_be_finite_and_positive(files, value):
    _, model, inp = files
    code, _, err = run("count", model, "--input", inp, "--radius", 1, "--timeout", value)
    assert code == 2 and ("finite number" in err or "range" in err) and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_compile_builds_the_loops_into_numba_cache(tmp_path):
    """`bdd4bnn compile` compiles both loops into numba's cache (here an empty one of its
    own: NUMBA_CACHE_DIR), so that later processes load them."""
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "bdd4bnn", "compile", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    loops = json.loads(proc.stdout)["loops"]
    assert [x["loop"].split(" (")[0] for x in loops] == ["subtree walk", "top-down BDD loop"]
    cached = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    assert {"subtree_loop.walk", "topdown_loop.expand"} <= cached, cached


def test_a_limit_during_compilation_exits_with_a_note():
    code = (
        "from bdd4bnn import jit; jit.compiling = lambda: True; "
        "from bdd4bnn.cli.common import _exit_past_compilation; _exit_past_compilation(3)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3
    assert "bdd4bnn compile" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
