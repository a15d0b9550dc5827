"""Robustness radius: the largest Hamming radius r whose ball keeps the label.

With ε = 0: the largest r such that no input within distance r is classified differently
(the minimum adversarial distance minus one). With ε > 0: the largest r such that, for every
r' ≤ r, the share of the ball B(u, r') classified as the label is at least 1 − ε (compared
exactly, with fractions).

Engines: SAT (ε = 0 only): concrete samples ring by ring give an upper bound d, then one
incremental session over B(u, d−1) asks ring after ring, switching the radius by assumption.
Enumeration: ring by ring, each ring enumerated once and counts accumulated. BDD, ε = 0: with
a sampled upper bound d, one compilation over B(u, d−1) whose adversarial set is conjoined
with each ring in turn; without one, ball by ball (a compilation over all inputs would cost far
more than stopping at the first failing ball). BDD, ε > 0: ball by ball, counts per ball.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .compile import compile_region
from .count import bdd_counts
from .engines import ENUM_SECONDS_MAX, RADIUS_ENGINES
from .enumeration import enum_counts, enum_find, estimate_seconds
from .results import RadiusResult
from .sat import DEFAULT_SOLVER, SatSession
from .verify import counterexample, verify

__all__ = ["radius"]


def _ring_samples(center: np.ndarray, k: int, count: int, rng: random.Random) -> np.ndarray:
    n = len(center)
    x = np.repeat(center[None, :], count, axis=0)
    for row in x:
        row[rng.sample(range(n), k)] *= -1
    return x


def sampled_upper_bound(
    model: BNN, center: np.ndarray, label: int, max_r: int, per_ring: int = 64, seed: int = 0
) -> tuple[int, np.ndarray] | None:
    """Return (k, x): the nearest ring where a sample is adversarial, or None up to ``max_r``."""
    rng = random.Random(seed)
    for k in range(1, max_r + 1):
        xs = _ring_samples(center, k, per_ring, rng)
        hits = np.flatnonzero(classify(model, xs) != label)
        if hits.size:
            return k, xs[hits[0]]
    return None


def radius(
    model: BNN,
    center: np.ndarray,
    *,
    max_radius: int | None = None,
    epsilon: float = 0.0,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    solver: str = DEFAULT_SOLVER,
    progress: Callable[[int], None] | None = None,
) -> RadiusResult:
    """Return the robustness radius of ``center`` (see the module docstring)."""
    if engine not in RADIUS_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {RADIUS_ENGINES}")
    center = Region.hamming(center, 0).center
    n = len(center)
    top = n if max_radius is None else max_radius
    if isinstance(top, bool) or not 0 <= top <= n:
        raise RegionError(f"--max {top} out of range 0..{n}")
    if not 0 <= epsilon < 1:
        raise RegionError(f"epsilon {epsilon} out of range [0, 1)")
    t0 = time.perf_counter()
    label = int(classify(model, center))
    budget = Budget(timeout, max_nodes)
    reason = None
    if engine == "auto":
        if epsilon == 0:
            engine, reason = (
                "enum+sat",
                (
                    "epsilon = 0: rings enumerated while each is estimated under "
                    f"{RING_ENUM_SECONDS:g} s, then an incremental SAT search"
                ),
            )
        else:
            est = estimate_seconds(model, Region.hamming(center, top).size)
            engine = "enum" if est <= ENUM_SECONDS_MAX else "bdd"
            reason = f"epsilon > 0 needs counts; enumeration of the largest ball ~{est:.2g} s"
    if engine == "sat" and epsilon > 0:
        raise RegionError("--epsilon > 0 needs a counting engine (bdd or enum), not sat")
    base = dict(label=label, epsilon=epsilon, max_radius=top, engine=engine, engine_reason=reason)
    safe = 0  # largest radius known safe so far
    try:
        if epsilon == 0:
            safe, x = _radius_exact(model, center, label, top, engine, budget, solver, progress)
        else:
            safe, x, shares = _radius_share(model, center, label, top, engine, epsilon, budget)
            base["shares"] = shares
    except LimitReached as exc:
        return RadiusResult(
            status="unknown", reason=exc.reason, seconds=time.perf_counter() - t0, **base
        )
    if x is not None and (classify(model, x) == label or np.sum(x != center) != safe + 1):
        raise AssertionError(
            "radius counterexample failed the concrete re-check"
        )  # pragma: no cover
    return RadiusResult(
        status="ok",
        radius=safe,
        max_reached=x is None,
        counterexample=None if x is None else [int(v) for v in x],
        seconds=time.perf_counter() - t0,
        **base,
    )


RING_ENUM_SECONDS = 0.02


def _radius_exact(model, center, label, top, engine, budget, solver, progress):
    others = [c for c in range(model.num_classes) if c != label]
    if engine in ("sat", "enum+sat"):
        ub = sampled_upper_bound(model, center, label, top)
        hi = top if ub is None else ub[0] - 1  # every radius > hi is known unsafe
        if hi == 0:
            return 0, ub[1]
        start = 1
        if engine == "enum+sat":
            ball = Region.hamming(center, hi)
            while (
                start <= hi
                and estimate_seconds(model, ball.sphere_size(start), start) <= RING_ENUM_SECONDS
            ):
                x = enum_find(model, ball, others, budget=budget, distances=[start])
                if x is not None:
                    return start - 1, x
                start += 1
            if start > hi:
                return (hi, None) if ub is None else (hi, ub[1])
        with SatSession(model, Region.hamming(center, hi), solver=solver, budget=budget) as session:
            for r in range(start, hi + 1):
                left = None if budget.timeout is None else budget.timeout - budget.elapsed()
                x = session.find(Region.hamming(center, r), others, timeout=left)
                if x is not None:
                    return r - 1, x
                if progress:
                    progress(1)
        return (hi, None) if ub is None else (hi, ub[1])
    if engine == "bdd":
        ub = sampled_upper_bound(model, center, label, top)
        if ub is not None:
            return _radius_bdd_rings(model, center, others, ub, budget, progress)
    for r in range(1, top + 1):
        region = Region.hamming(center, r)
        if engine == "enum":
            x = enum_find(model, region, others, budget=budget, distances=[r])
        else:
            left = None if budget.timeout is None else budget.timeout - budget.elapsed()
            if left is not None and left <= 0:
                raise LimitReached(f"timeout: {budget.timeout:g} s exceeded")
            res = verify(model, region, engine="bdd", timeout=left, max_nodes=budget.max_nodes)
            if res.status != "ok":
                raise LimitReached(f"{res.reason} (radius >= {r - 1})")
            x = None if res.robust else np.array(res.counterexample, dtype=np.int8)
            if x is not None and np.sum(x != center) < r:  # pragma: no cover - earlier ring
                raise AssertionError("BDD found an adversarial input in a ball already safe")
        if x is not None:
            return r - 1, x
        if progress:
            progress(1)
    return top, None


def _radius_bdd_rings(model, center, others, ub, budget, progress):
    """BDD ring by ring, one compilation: the adversarial set over B(u, d−1), d the sampled
    upper bound, is conjoined with each ring (exactly r flips) in turn."""
    hi = ub[0] - 1
    if hi == 0:
        return 0, ub[1]
    comp = compile_region(model, Region.hamming(center, hi), budget=budget)
    eng = comp.engine
    bad = eng.false
    for c in others:
        bad = bad | comp.class_bdd(c)
    inner = eng.region_bdd(Region.hamming(center, 0))
    for r in range(1, hi + 1):
        ball = eng.region_bdd(Region.hamming(center, r))
        hit = bad & ball & ~inner
        if hit != eng.false:
            return r - 1, counterexample(Region.hamming(center, r), eng.pick(hit))
        inner = ball
        budget.check()
        if progress:
            progress(1)
    return hi, ub[1]


def _radius_share(model, center, label, top, engine, epsilon, budget):
    need = 1 - Fraction(epsilon)
    inside = 0
    shares: list[float] = []
    for r in range(0, top + 1):
        ball = Region.hamming(center, r)
        if engine == "enum":
            inside += enum_counts(model, ball, budget=budget, distances=[r])[label]
        else:
            inside = bdd_counts(model, ball, budget)[0][label]
        shares.append(inside / ball.size)
        if Fraction(inside, ball.size) < need:
            x = _some_adversarial(model, ball, label)
            return r - 1, x, shares
    return top, None, shares


def _some_adversarial(model, ball, label):
    """Return an adversarial input at distance exactly ball.radius (the failing ring)."""
    others = [c for c in range(model.num_classes) if c != label]
    ring = Region.hamming(ball.center, ball.radius)
    for x in ring.iter_points(distances=[ball.radius]):
        hits = np.flatnonzero(np.isin(classify(model, x), others))
        if hits.size:
            return x[hits[0]]
    return None  # pragma: no cover - the ring must hold one
