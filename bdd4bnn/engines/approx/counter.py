"""Approximate counting with ApproxMC (pyapproxmc) for regions beyond any BDD.

Per class, the CNF of the model folded over the region (only the free pixels remain), the
radius as a cardinality constraint over the flip literals, and the class selector as a unit
clause is counted projected on the free pixels: a (1+ε)-approximation with probability
≥ 1−δ. pyapproxmc silently drops projection variables that occur in no clause, so every free
pixel is made to occur in a clause ``(x ∨ ¬t)`` with one fresh variable t, which changes no
projected count.
"""

from __future__ import annotations

from pysat.card import CardEnc, EncType

from ...encoders.cnf import CnfEncoder
from ...encoders.propagate import propagate
from ...model import BNN
from ...region import Region

__all__ = ["approx_counts", "region_cnf", "class_cnf"]


def region_cnf(model: BNN, region: Region) -> tuple[list[list[int]], list[int], list[int]]:
    """Return (clauses, projection, class selectors): the model folded over the region, the
    fixed pixels and the radius; adding the unit clause of class c's selector makes the
    projected model count class c's count."""
    enc = CnfEncoder(model, folded=propagate(model, region))
    clauses = list(enc.clauses)
    free = list(region.free)
    fixed = sorted(set(range(region.n)) - set(free))
    clauses.extend([enc.x[i] if region.center[i] > 0 else -enc.x[i]] for i in fixed)
    if region.radius < len(free):
        flips = enc.flip_literals(region.center, free)
        atmost = CardEnc.atmost(
            flips, bound=region.radius, vpool=enc.pool, encoding=EncType.kmtotalizer
        )
        clauses.extend(atmost.clauses)
    t = enc.pool.id(("occurs",))
    clauses.extend([enc.x[i], -t] for i in free)
    return clauses, [enc.x[i] for i in free], enc.selectors


def class_cnf(model: BNN, region: Region, cls: int) -> tuple[list[list[int]], list[int]]:
    """Return (clauses, projection) whose projected model count is the class's count."""
    clauses, projection, selectors = region_cnf(model, region)
    return [*clauses, [selectors[cls]]], projection


def approx_counts(
    model: BNN,
    region: Region,
    *,
    epsilon: float = 0.8,
    delta: float = 0.2,
    seed: int = 1,
) -> list[int]:
    """Return ApproxMC estimates of the per-class counts over ``region``."""
    import pyapproxmc

    clauses, projection, selectors = region_cnf(model, region)
    if not projection:  # a single input: decide it exactly
        from ...semantics import classify

        label = int(classify(model, region.center))
        return [int(c == label) for c in range(model.num_classes)]
    out = []
    for sel in selectors:  # a counter counts once: one per class, on the shared clauses
        counter = pyapproxmc.Counter(seed=seed, epsilon=epsilon, delta=delta)
        counter.add_clauses(clauses)
        counter.add_clause([sel])
        cells, hashes = counter.count(projection)
        out.append(int(cells) * 2 ** int(hashes))
    return out
