"""Build the compiled inner loops ahead of any query (``bdd4bnn compile``).

numba compiles the subtree walk and the top-down BDD loop on their first use on a machine
(seconds to tens of seconds) and keeps the machine code in its cache beside the sources. A
time-limited command-line query that runs out while a loop still compiles exits without that
cache (:func:`bdd4bnn.jit.compiled_call`), so on a slow machine every such query would pay the
compilation again. Here both loops run once, without a limit, on a tiny network whose
arguments have the same types as any binary model's.
"""

from __future__ import annotations

import time

import numpy as np

from .. import jit
from ..model import BNN
from ..region import Region

__all__ = ["compile_loops"]


def _tiny() -> tuple[BNN, Region]:
    rng = np.random.default_rng(0)
    sizes = [12, 6, 5, 3]
    blocks = [
        {"weight": rng.choice([-1, 1], size=(b, a)).tolist(), "bias": [0.5] * b}
        for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)
    ]
    output = {"weight": rng.choice([-1, 1], size=(sizes[-1], sizes[-2])).tolist()}
    model = BNN.build(sizes[0], blocks, output)
    return model, Region.hamming(np.where(rng.random(sizes[0]) < 0.5, 1, -1), 4)


def compile_loops() -> list[tuple[str, float]]:
    """Compile (or load from numba's cache) every compiled loop; return (loop, seconds)
    pairs. Raises ImportError without numba."""
    if not jit.available():
        raise ImportError("numba is not installed: nothing to compile")
    from .bdd.compile import compile_region
    from .enum.subtree import subtree_counts

    model, region = _tiny()
    done = []
    t = time.perf_counter()
    subtree_counts(model, region, threads=1, batch_rows=1)
    done.append(("subtree walk (engines/enum/subtree_loop.py)", time.perf_counter() - t))
    t = time.perf_counter()
    compile_region(model, region, method="topdown")
    done.append(("top-down BDD loop (engines/bdd/topdown_loop.py)", time.perf_counter() - t))
    return done
