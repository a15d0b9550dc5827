"""The cost model knows what a first use costs (numba import, cached or fresh compilation), and
what SAT cannot take."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bdd4bnn import jit
from bdd4bnn.region import Region

from .conftest import ROOT

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


def test_sat_is_not_chosen_for_a_cnf_past_its_ceiling():
    """Dense 2048-wide blocks: verify and the radius's rings enumerate (the walk proves what
    SAT could not even encode); narrow models keep SAT."""
    from bdd4bnn import Region, load_model
    from bdd4bnn.encoders import cnf
    from bdd4bnn.engines import choose

    wide = load_model(ROOT / "models" / "mnist_28x28_784-2048-2048-2048-10.npz")
    narrow = load_model(ROOT / "models" / "mnist_10x10_100-50-20-10.json")
    assert cnf.later_blocks_clauses(wide) > cnf.MAX_CLAUSES >= cnf.later_blocks_clauses(narrow)
    u = np.ones(784, dtype=np.int8)
    ball = Region.hamming(u, 3)
    assert choose.for_find(wide, ball).engine == "enum"
    assert "clauses" in choose.for_find(wide, ball).reason
    assert choose.for_ring(wide, ball, 3, gave_up=frozenset({"bdd"})).engine == "enum"
    v = np.ones(100, dtype=np.int8)
    assert choose.for_find(narrow, Region.hamming(v, 6)).engine == "sat"
