"""The benchmark scripts run in quick mode, so they never rot (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("script", ["bench_engines.py", "bench_sat_encodings.py"])
def test_benchmark_quick_mode_runs(script):
    proc = subprocess.run(
        [sys.executable, script, "--quick"],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| random_16_8_3 |" in proc.stdout
