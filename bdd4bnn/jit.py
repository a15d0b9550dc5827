"""numba, the compiler of the inner loops (subtree walk, top-down BDD compilation)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "available",
    "compiled",
    "first_use_seconds",
    "compiled_call",
    "compiling",
    "OPTIONS",
]

OPTIONS = dict(cache=True, nogil=True, boundscheck=False)  # every compiled loop's njit options

# What a first use costs in a fresh process (benchmarks/RESULTS.md, "First use"): importing
# numba, then per compiled loop loading its machine code from numba's cache, or compiling it
# where the cache has none (the first use on a machine, or after the loop's source changed).
IMPORT_SECONDS = 0.3
LOAD_SECONDS = 0.5
COMPILE_SECONDS = 15.0


def available() -> bool:
    """Return whether numba is installed (not importing it: small regions should not pay for
    that, see :data:`IMPORT_SECONDS`)."""
    return importlib.util.find_spec("numba") is not None


def first_use_seconds(module: str, functions: Sequence[str]) -> float:
    """Return the estimated seconds before the compiled ``functions`` of ``module`` can run
    in this process: 0 once they ran here; else importing numba (if not yet imported) and,
    per function, loading it from numba's cache beside the module when a cache entry at least
    as new as the source exists, else compiling it.

    A process that has already imported numba is taken to be a long-running one (the Python
    API, a batch worker, a benchmark) that uses compiled loops: loading a cached one is paid
    once and amortised over its queries, so it counts as free there; a fresh command-line
    process pays it in full."""
    mod = sys.modules.get(module)
    if mod is not None and all(getattr(getattr(mod, f), "signatures", None) for f in functions):
        return 0.0
    cost = 0.0 if "numba" in sys.modules else IMPORT_SECONDS
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - the loops ship as sources
        return cost + COMPILE_SECONDS * len(functions)
    src = Path(spec.origin)
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    stamp = src.stat().st_mtime
    for f in functions:
        entries = (src.parent / "__pycache__").glob(f"{src.stem}.{f}-*.{tag}.nbi")
        cached = any(e.stat().st_mtime >= stamp for e in entries)
        if not cached:
            cost += COMPILE_SECONDS
        elif "numba" not in sys.modules:
            cost += LOAD_SECONDS
    return cost


def compiled(fn):  # type: ignore[no-untyped-def]
    """Return ``fn`` (plain Python on numbers) compiled by numba for the loops."""
    import numba

    return numba.njit(inline="always", **OPTIONS)(fn)


THREAD_NAME = "bdd4bnn-jit"


def compiling() -> bool:
    """Return whether a call :func:`compiled_call` stopped waiting for still runs."""
    return any(t.name == THREAD_NAME and t.is_alive() for t in threading.enumerate())


def compiled_call(budget: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Return ``fn(*args)`` for a compiled ``fn`` (or a first call that imports heavy modules,
    such as torch: then always in the thread); while its machine code is not ready in this
    process (the first call compiles it, or loads it from the cache: seconds), the call runs
    in a daemon thread and the caller waits on ``budget``, so that a time limit stops the wait
    (:class:`~bdd4bnn.errors.LimitReached`; the compilation goes on in the background and the
    next call finds it done). The arguments must not be used again after a limit."""
    if budget is None or budget.timeout is None or getattr(fn, "signatures", None):
        return fn(*args)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name=THREAD_NAME)
    worker.start()
    while worker.is_alive():
        worker.join(0.02)
        if worker.is_alive():
            budget.check()
    if "error" in box:
        raise box["error"]
    return box["value"]
