"""numba, the compiler of the inner loops (subtree walk, top-down BDD compilation)."""

from __future__ import annotations

import importlib.util

__all__ = ["available", "compiled", "OPTIONS"]

OPTIONS = dict(cache=True, nogil=True, boundscheck=False)  # every compiled loop's njit options


def available() -> bool:
    """Return whether numba is installed (not importing it: that takes about half a second,
    which small regions should not pay)."""
    return importlib.util.find_spec("numba") is not None


def compiled(fn):  # type: ignore[no-untyped-def]
    """Return ``fn`` (plain Python on numbers) compiled by numba for the loops."""
    import numba

    return numba.njit(inline="always", **OPTIONS)(fn)
