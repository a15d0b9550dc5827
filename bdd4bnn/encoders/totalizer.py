"""A truncated two-way totalizer: unary counter outputs that mean exactly "at least t of".

PySAT's totalizers (``ITotalizer``, ``CardEnc``) only push counts upwards (``≥ t`` true inputs
force output ``t``), which is enough to bound a count from above. Encoding a neuron relative to
a centre (:mod:`bdd4bnn.encoders.cnf`) compares two counts, so each output must also force its
count: here ``out[t - 1] ↔ (at least t of lits)`` for every ``t ≤ cap`` (Bailleux and Boufkhad
2003, both clause directions; outputs above ``cap`` are dropped, as in PySAT's ``ubound``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pysat.formula import IDPool

__all__ = ["counter"]


def counter(lits: Sequence[int], cap: int, pool: IDPool, clauses: list[list[int]]) -> list[int]:
    """Return ``out`` with ``out[t - 1] ↔ |{l ∈ lits : l}| ≥ t`` for ``t = 1..min(cap, n)``.

    The defining clauses are appended to ``clauses``; fresh variables come from ``pool``.
    """
    if cap < 1 or not lits:
        return []
    return _node(list(lits), cap, pool, clauses)


def _node(lits: list[int], cap: int, pool: IDPool, clauses: list[list[int]]) -> list[int]:
    if len(lits) == 1:
        return [lits[0]]
    half = len(lits) // 2
    a = _node(lits[:half], cap, pool, clauses)
    b = _node(lits[half:], cap, pool, clauses)
    n = min(len(a) + len(b), cap)
    out = [pool.id() for _ in range(n)]
    # up: ≥ i of a and ≥ j of b force ≥ i + j (capped at n)
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            if i + j:
                clause = [out[min(i + j, n) - 1]]
                if i:
                    clause.append(-a[i - 1])
                if j:
                    clause.append(-b[j - 1])
                clauses.append(clause)
    # down: ≥ i + j + 1 needs > i of a or > j of b
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            if i + j + 1 <= n:
                clause = [-out[i + j]]
                if i < len(a):
                    clause.append(a[i])
                if j < len(b):
                    clause.append(b[j])
                clauses.append(clause)
    return out
