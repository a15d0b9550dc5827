"""Outputs a script can trust: exit codes, JSON documents and errors, output paths."""

from __future__ import annotations

import json

import pytest

from bdd4bnn.cli import analyses as cli_analyses

from .test_cli import files, run  # noqa: F401 - the fixture

SCHEMA = 1


def test_every_json_document_has_a_schema(files):  # noqa: F811
    _, model, inp = files
    for argv in (
        ["count", model, "--input", inp, "--radius", 1, "--json"],
        ["verify", model, "--input", inp, "--radius", 1, "--json"],
        ["radius", model, "--input", inp, "--json"],
        ["explain", model, "--input", inp, "--radius", 1, "--json"],
        ["info", model, "--json"],
    ):
        code, out, err = run(*argv)
        assert code in (0, 1), err
        assert json.loads(out)["schema"] == SCHEMA, argv[0]


def test_verify_json_names_flipped_pixels_and_radius_the_class(files):  # noqa: F811
    _, model, inp = files
    code, out, _ = run("verify", model, "--input", inp, "--radius", 4, "--json", "--samples", 0)
    doc = json.loads(out)
    if code == 1:
        x, u = doc["counterexample"], [1, -1, 1, 1]
        assert doc["flipped"] == [i for i in range(4) if x[i] != u[i]]
    code, out, _ = run("radius", model, "--input", inp, "--json")
    doc = json.loads(out)
    if not doc["max_reached"]:
        assert doc["counterexample_class"] is not None
        assert doc["radius_upper"] == doc["radius"] + 1 == doc["radius_lower"] + 1


def test_errors_under_json_are_json_objects(files):  # noqa: F811
    _, model, inp = files
    code, out, err = run("count", model, "--input", inp, "--radius", 9, "--json")
    assert code == 2 and "out of range" in err
    doc = json.loads(out)
    assert doc["status"] == "error" and "out of range" in doc["error"]
    assert doc["schema"] == SCHEMA


def test_interrupt_exits_130_and_internal_errors_4(files, monkeypatch):  # noqa: F811
    _, model, inp = files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_analyses, "count_region", interrupted)
    code, _, err = run("count", model, "--input", inp, "--radius", 1)
    assert code == 130 and "interrupted" in err

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(cli_analyses, "count_region", broken)
    code, _, err = run("count", model, "--input", inp, "--radius", 1)
    assert code == 4 and "internal error" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv_tail, hint",
    [
        (["--png", "{tmp}/missing/x.png"], "no such folder"),
        (["--png", "{tmp}/x.xyz"], "expected a .png"),
        (["--dot", "{tmp}/missing/x.dot"], "no such folder"),
        (["--png", "{tmp}"], "expected a .png"),
    ],
)
def test_output_paths_are_checked_before_the_work(files, argv_tail, hint):  # noqa: F811
    tmp, model, inp = files
    tail = [a.format(tmp=tmp) for a in argv_tail]
    code, _, err = run("explain", model, "--input", inp, "--radius", 1, *tail)
    assert code == 2 and hint in err


def test_job_outputs_are_checked(files, tmp_path):  # noqa: F811
    _, model, _ = files
    job = tmp_path / "job.toml"
    job.write_text(f'models = ["{model}"]\ninputs = []\nradii = [1]\nanalyses = ["count"]\n')
    code, _, err = run("batch", job, "--db", tmp_path / "missing" / "r.db")
    assert code == 2 and "no such folder" in err
    code, _, err = run("dataset-input", "--index", 0, "--size", 4, "--out", tmp_path / "no" / "x")
    assert code == 2 and "no such folder" in err
