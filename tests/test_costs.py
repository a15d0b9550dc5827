"""The cost model knows what a first use costs (numba import, cached or fresh compilation)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bdd4bnn import jit
from bdd4bnn.region import Region

pytest.importorskip("numba")

LOOP = "bdd4bnn.engines.enum.subtree_loop"


def test_first_use_is_free_once_the_walk_ran():
    from bdd4bnn.engines.enum.subtree import subtree_counts
    from bdd4bnn.model import BNN

    model = BNN.build(4, [{"weight": [[1, -1, 1, 1]]}], {"weight": [[1], [-1]]})
    subtree_counts(model, Region.hamming(np.ones(4, dtype=int), 2))
    assert jit.first_use_seconds(LOOP, ("walk",)) == 0.0


def test_first_use_in_a_fresh_process_counts_import_and_cache():
    code = (
        "from bdd4bnn import jit; import sys; "
        f"print(jit.first_use_seconds({LOOP!r}, ('walk',)), 'numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cost, loaded = out.stdout.split()
    assert loaded == "False"  # asking costs no import
    assert float(cost) in (
        jit.IMPORT_SECONDS + jit.LOAD_SECONDS,
        jit.IMPORT_SECONDS + jit.COMPILE_SECONDS,
    )


def test_a_loop_without_cache_entries_costs_a_compilation(tmp_path, monkeypatch):
    (tmp_path / "fresh_loop.py").write_text("def walk():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cost = jit.first_use_seconds("fresh_loop", ("walk",))
    base = 0.0 if "numba" in sys.modules else jit.IMPORT_SECONDS
    assert cost == base + jit.COMPILE_SECONDS


def test_a_process_that_loaded_numba_amortises_cached_loops():
    code = (
        f"import numba; from bdd4bnn import jit; print(jit.first_use_seconds({LOOP!r}, ('walk',)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) in (0.0, jit.COMPILE_SECONDS)
