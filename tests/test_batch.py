"""Batch jobs: job-file errors, local and Dask runs, resume after SIGKILL, reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from bdd4bnn import Region
from bdd4bnn.analyses import count
from bdd4bnn.batch import JobError, ResultStore, load_job, run_job
from bdd4bnn.batch.report import write_report
from bdd4bnn.cli import main
from bdd4bnn.formats import save_model
from bdd4bnn.model import BNN

from .conftest import ROOT


def write_job(tmp_path, body: str, n: int = 20) -> tuple:
    rng = np.random.default_rng(11)
    model = BNN.build(
        n,
        [
            {"weight": rng.choice([-1, 1], (8, n)), "bias": rng.normal(size=8)},
            {"weight": rng.choice([-1, 1], (6, 8))},
        ],
        {"weight": rng.choice([-1, 1], (4, 6))},
    )
    save_model(model, tmp_path / "m.json")
    for i in range(3):
        (tmp_path / f"x{i}.txt").write_text(" ".join(map(str, rng.choice([0, 1], n))))
    (tmp_path / "free.txt").write_text("0 3 5 7 9 11")
    job = tmp_path / "job.toml"
    job.write_text(body)
    return job, model


JOB = """
name = "t"
models = ["m.json"]
inputs = ["x0.txt", "x1.txt", "x2.txt"]
radii = [1, 2, 3]
free_sets = ["free.txt"]
analyses = ["count", "verify", "radius", "explain"]
time_limit = 30
"""


def comparable(rows):
    out = {}
    for r in rows:
        a = dict(r["answer"])
        for k in (
            "seconds",
            "peak_nodes",
            "engine_reason",
            "found_by",
            "counterexample",
            "counterexample_class",
        ):
            a.pop(k, None)
        out[r["key"]] = (r["status"], json.dumps(a, sort_keys=True))
    return out


def test_local_run_matches_direct_analyses_and_resumes(tmp_path):
    job_path, model = write_job(tmp_path, JOB)
    job = load_job(job_path)
    assert len(job.tasks) == 3 * (3 * 4 + 1)  # inputs x (3 analyses x 4 regions + radius)
    with ResultStore(tmp_path / "r.sqlite") as store:
        s = run_job(job, store, workers=2)
        assert s["done"] == len(job.tasks) and s["failed"] == 0
        rows = store.rows()
        again = run_job(job, store)
        assert again["skipped"] == len(job.tasks) and again["done"] == 0
    assert len({r["key"] for r in rows}) == len(rows) == len(job.tasks)
    for r in rows:
        if r["analysis"] == "count" and r["region"].startswith("r="):
            t = next(t for t in job.tasks if t.key == r["key"])
            want = count(model, Region.hamming(t.center, t.region["radius"]), engine="enum")
            assert r["answer"]["per_class"] == want.per_class


def test_errors_and_timeouts_are_recorded_and_the_job_goes_on(tmp_path):
    job_path, _ = write_job(
        tmp_path,
        JOB.replace("radii = [1, 2, 3]", "radii = [1]").replace(
            'analyses = ["count", "verify", "radius", "explain"]', 'analyses = ["count"]'
        ),
    )
    job = load_job(job_path)
    import dataclasses

    broken = dataclasses.replace(job.tasks[0], key="broken", model_doc={"format": "nope"})
    rng = np.random.default_rng(0)
    big = BNN.build(
        90,
        [{"weight": rng.choice([-1, 1], (40, 90))}, {"weight": rng.choice([-1, 1], (30, 40))}],
        {"weight": rng.choice([-1, 1], (10, 30))},
    )
    from bdd4bnn.formats import model_to_dict

    slow = dataclasses.replace(
        job.tasks[0],
        key="slow",
        model_doc=model_to_dict(big),
        center=[1] * 90,
        region={"kind": "hamming", "radius": 9},
        engine="bdd",
        time_limit=0.5,
    )
    job.tasks[:0] = [broken, slow]
    with ResultStore(tmp_path / "r.sqlite") as store:
        s = run_job(job, store, workers=2)
        rows = {r["key"]: r for r in store.rows()}
    assert s["failed"] == 1 and s["unknown"] == 1 and s["done"] == len(job.tasks) - 2
    assert rows["broken"]["status"] == "error" and "format" in rows["broken"]["answer"]["error"]
    assert rows["slow"]["status"] == "unknown" and "timeout" in rows["slow"]["answer"]["reason"]


BAD_JOBS = [
    ("models = []\ninputs = ['x0.txt']\nradii = [1]", "models"),
    ("models = ['m.json']\nradii = [1]", "inputs"),
    ("models = ['m.json']\ninputs = ['x0.txt']", "radii"),
    (
        "models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nanalyses = ['count', 'fly']",
        "analyses: unknown analysis 'fly'",
    ),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nengine = 'sat'", "engine"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\ntime_limit = -3", "time_limit"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\ncolour = 'red'", "colour"),
    ("models = ['nope.json']\ninputs = ['x0.txt']\nradii = [1]", "models: "),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [99]", "radii: 99"),
    ("models = ['m.json'\n", "invalid TOML"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nmnist_test = [1]\nradii = [1]", "mnist_test"),
    # numbers that are not numbers: TOML's nan and inf, strings, booleans, out of range
    *[
        (f"models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\n{key} = {value}", key)
        for key in ("time_limit", "node_limit", "radius_max")
        for value in ("nan", "inf", "-inf", "'1e-5'", "true", "0", "1e300")
    ],
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nnode_limit = 2.5", "node_limit"),
    (
        "models = ['m.json']\ninputs = ['x0.txt']\nanalyses = ['radius']\nradius_max = 21",
        "radius_max: 21 > input size 20",
    ),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nfree_radius = nan", "free_radius"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1.5]", "radii"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nengine = {cout = 'bdd'}", "cout"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nengine = 3", "engine"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\ndata_dir = 3", "data_dir"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nradii = [1]\nname = nan", "name"),
    ("models = ['m.json']\ninputs = ['x0.txt']\nlinf = [nan]\nmnist_test = [1]", "linf"),
]


@pytest.mark.parametrize("body,needle", BAD_JOBS)
def test_bad_job_files_give_one_line_errors(tmp_path, body, needle):
    job_path, _ = write_job(tmp_path, body)
    with pytest.raises(JobError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        load_job(job_path)
    result = CliRunner().invoke(main, ["batch", str(job_path), "--db", str(tmp_path / "d.db")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_resume_after_sigkill(tmp_path):
    """A real subprocess is killed with SIGKILL mid-job; the re-run loses and repeats nothing."""
    body = (
        JOB.replace(
            'analyses = ["count", "verify", "radius", "explain"]', 'analyses = ["count", "explain"]'
        )
        + "engine = { count = 'bdd' }\n"
    )
    job_path, _ = write_job(tmp_path, body, n=26)
    db = tmp_path / "r.sqlite"
    total = len(load_job(job_path).tasks)
    cmd = [sys.executable, "-m", "bdd4bnn", "batch", str(job_path), "--db", str(db), "-q"]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 3:
                break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("the job finished before it could be killed; make the tasks slower")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with ResultStore(db) as store:
        before = {r["key"]: r["finished_at"] for r in store.rows()}
    assert 3 <= len(before) < total
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already in" in rerun.stdout
    with ResultStore(db) as store:
        rows = store.rows()
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)) == total
    assert all(r["status"] == "ok" for r in rows)
    assert {r["key"]: r["finished_at"] for r in rows if r["key"] in before} == before


def test_dask_local_cluster_equals_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    job_path, _ = write_job(tmp_path, JOB.replace("radii = [1, 2, 3]", "radii = [1, 2]"))
    job = load_job(job_path)
    with ResultStore(tmp_path / "local.sqlite") as store:
        run_job(job, store, workers=2)
        local = comparable(store.rows())
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with ResultStore(tmp_path / "dask.sqlite") as store:
            s = run_job(job, store, scheduler=cluster.scheduler_address)
            remote = comparable(store.rows())
    assert s["done"] == len(job.tasks)
    assert remote == local


def test_results_json_and_report(tmp_path):
    job_path, _ = write_job(tmp_path, JOB.replace("radii = [1, 2, 3]", "radii = [1, 2]"))
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    res = runner.invoke(main, ["batch", str(job_path), "--db", str(db), "--workers", "2", "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["results", "--db", str(db), "--json"])
    rows = json.loads(res.stdout)
    assert rows and {"key", "status", "answer", "seconds"} <= set(rows[0])
    out = tmp_path / "report"
    res = runner.invoke(main, ["report", "--db", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = (out / "index.html").read_text()
    assert page.count("<tr class=") == len(rows)
    for name in ("robust_vs_radius.png", "adversarial_counts.png", "radius_histogram.png"):
        assert f"src='{name}'" in page
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"] == len(rows)
    assert (out / "summary.csv").read_text().count("\n") == len(rows) + 1


def test_report_page_renders_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    rows = [
        {
            "key": "k",
            "model": "m",
            "input": "x",
            "region": "r=1",
            "analysis": "verify",
            "engine": "sat",
            "status": "ok",
            "answer": {"robust": True, "label": 1},
            "seconds": 0.1,
            "peak_nodes": 0,
        }
    ]
    out = tmp_path / "report"
    write_report(rows, out)
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.read_bytes()[:4] == b"\x89PNG"


def test_write_report_handles_an_empty_store(tmp_path):
    res = write_report([], tmp_path / "empty")
    assert res["tasks"] == 0 and (tmp_path / "empty" / "index.html").exists()


def test_example_job_file_is_valid():
    job = load_job(ROOT / "examples" / "job.toml")
    assert len(job.tasks) > 10


def test_forked_workers_survive_a_parent_that_started_torch_threads(tmp_path):
    """Local workers are forked: they must not use torch's thread pool, which the parent may
    have started (it deadlocks after fork; the tasks were then killed at their limit)."""
    torch = pytest.importorskip("torch")
    torch.ones(256, 256) @ torch.ones(256, 256)  # starts the intra-op pool here
    job_path, _ = write_job(
        tmp_path,
        JOB.replace('analyses = ["count", "verify", "radius", "explain"]', 'analyses = ["count"]')
        .replace("time_limit = 30", "time_limit = 5")
        .replace('free_sets = ["free.txt"]\n', ""),
    )
    job = load_job(job_path)
    assert any(t.region["radius"] == 3 for t in job.tasks)  # 1,351 inputs: the int8 size
    with ResultStore(tmp_path / "r.sqlite") as store:
        s = run_job(job, store, workers=2)
    assert s["done"] == len(job.tasks) and s["unknown"] == 0 and s["failed"] == 0
