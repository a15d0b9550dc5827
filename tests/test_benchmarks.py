"""The benchmark scripts run in quick mode, so they never rot (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize(
    "args, expect",
    [
        (["bench_engines.py"], "| random_16_8_3 |"),
        (["bench_sat_encodings.py"], "| random_16_8_3 |"),
        (["bench_kernels.py"], "| int8 |"),
        (["bench_bnnquanalyst.py"], "| quick | bdd r=3 |"),
        (["bench_bnnquanalyst.py", "--large"], "| quick | 3 | 4526 |"),
        (["bench_packed.py"], "| npz |"),
        (["bench_cluster.py"], "| quick | 3 | 4526 |"),
        (
            ["bench_large_mlp.py", "../models/mnist_10x10_100-50-20-10.json", "--timeout", "2"],
            "| image | radius |",
        ),
        (
            ["probe_sensitive_triples.py", "../models/mnist_10x10_100-50-20-10.json"],
            "| 0 | 10 |",
        ),
    ],
)
def test_benchmark_quick_mode_runs(args, expect):
    proc = subprocess.run(
        [sys.executable, *args, "--quick"],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert expect in proc.stdout
