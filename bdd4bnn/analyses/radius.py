"""Robustness radius: the largest Hamming radius r whose ball keeps the label.

Within a region (default: every input), distances count flipped free pixels. With ε = 0: the
largest r ≤ the region's radius such that no input within distance r is classified
differently (the minimum adversarial distance minus one). With ε > 0: the largest r such
that, for every r' ≤ r, the share of the ball B(u, r') classified as the label is at least
1 − ε (compared exactly, with fractions).

Rings are asked in increasing distance through prepared engines (``find`` for ε = 0,
``counts`` for ε > 0), each ring's engine given by :mod:`bdd4bnn.engines.choose` or by the
user. For ε = 0, concrete samples and (with ``engine="auto"``) a beam-search attack
(:mod:`.attack`) first bound the radius from above, so that the engines are prepared over
the smaller ball below that bound; whole balls proven at once by top-down BDD bounds count
as all their rings, and SAT prepares a session per ball, cut at its radius, where the choice
says so. Whenever a limit stops the search, the
bounds proven so far are reported (``radius_lower``, ``radius_upper``).
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..engines import REGISTRY, Capability, Options
from ..engines import choose as choose_engine
from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..linf import check_epsilon, linf_ball
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .attack import beam_attack
from .common import Engines, Progress, as_progress, check_binary, check_limits
from .results import RadiusResult
from .verify import checked
from .verify import verify as verify_region

__all__ = ["radius", "radius_linf", "sampled_upper_bound"]


def sampled_upper_bound(
    model: BNN, region: Region, label: int, per_ring: int = 64, seed: int = 0
) -> tuple[int, np.ndarray] | None:
    """Return (k, x): the nearest ring of ``region`` where a uniform sample is adversarial,
    or None up to the region's radius."""
    rng = np.random.default_rng(seed)
    free = np.array(region.free, dtype=np.int64)
    for k in range(1, region.radius + 1):
        keys = rng.random((per_ring, free.size))
        pick = free[np.argsort(keys, axis=1)[:, :k]]
        xs = np.repeat(region.center[None, :], per_ring, axis=0)
        xs[np.arange(per_ring)[:, None], pick] *= -1
        hits = np.flatnonzero(classify(model, xs) != label)
        if hits.size:
            return k, xs[hits[0]]
    return None


class _Search:
    """Bounds proven so far: every radius ≤ ``lower`` is safe; ``upper`` is unsafe."""

    def __init__(self) -> None:
        self.lower, self.upper, self.witness = 0, None, None

    def unsafe(self, r: int, x: np.ndarray) -> None:
        self.upper, self.witness = r, x


def radius(
    model: BNN,
    region: Region,
    *,
    epsilon: float = 0.0,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    solver: str = "glucose4",
    backend: str = "auto",
    client: Any = None,
) -> RadiusResult:
    """Return the robustness radius of ``region.center`` within ``region`` (module docstring).

    The region's radius is the largest radius tried (:meth:`Region.everything` for no bound).
    ``client`` (a ``dask.distributed.Client``) verifies whole balls over its workers
    (:func:`bdd4bnn.analyses.distributed.radius_on`).

    >>> from bdd4bnn import Region, load_input, load_model, radius
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> x = load_input("examples/mnist_test_0_10x10.txt", 100)
    >>> res = radius(net, Region.hamming(x, 8))
    >>> res.radius, res.radius_lower, res.radius_upper
    (2, 2, 3)
    """
    check_limits(timeout, max_nodes)
    check_binary(model)
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise RegionError(f"epsilon: expected a number, got {epsilon!r}")
    if not 0 <= epsilon < 1:
        raise RegionError(f"epsilon {epsilon} out of range [0, 1)")
    if client is not None:  # balls verified over a Dask cluster
        from .distributed import radius_on

        return radius_on(
            client,
            model,
            region,
            epsilon=epsilon,
            engine=engine,
            timeout=timeout,
            max_nodes=max_nodes,
            progress=progress,
        )
    if engine != "auto":
        caps = (Capability.FIND,) if epsilon == 0 else (Capability.COUNT, Capability.EXACT)
        if epsilon > 0 and engine in REGISTRY and not REGISTRY[engine].can(*caps):
            raise RegionError(
                f"epsilon > 0 needs an exact counting engine (bdd or enum), not {engine}"
            )
    t0 = time.perf_counter()
    center, top = region.center, region.radius
    label = int(classify(model, center))
    budget = Budget(timeout, max_nodes)
    bar = as_progress(progress)
    bar.start(top, "ring")
    search = _Search()
    engines_used: dict[str, str | None] = {}
    shares: list[float] = []
    try:
        with Engines(model, budget, Options(solver=solver, backend=backend)) as engines:
            if epsilon == 0:
                _exact(model, region, label, engine, engines, search, engines_used, bar)
            else:
                _share(
                    model,
                    region,
                    label,
                    epsilon,
                    engine,
                    engines,
                    search,
                    shares,
                    bar,
                    engines_used,
                )
        status, reason = "ok", None
    except LimitReached as exc:
        status, reason = "unknown", exc.reason
    names = list(engines_used) or [engine if engine != "auto" else "sat"]
    used = "+".join(names)
    why = "; ".join(r for r in engines_used.values() if r) or None
    x = search.witness
    if x is not None:
        others = [c for c in range(model.num_classes) if c != label]
        got = checked(model, region, x, others, used)
        if epsilon == 0 and int(np.sum(x != center)) != search.upper:  # pragma: no cover
            raise AssertionError("radius counterexample is not on the first failing ring")
    else:
        got = None
    done = status == "ok"
    return RadiusResult(
        status=status,
        label=label,
        radius=search.lower if done else None,
        radius_lower=search.lower,
        radius_upper=search.upper,
        epsilon=epsilon,
        max_radius=top,
        max_reached=done and search.upper is None,
        counterexample=None if x is None else [int(v) for v in x],
        counterexample_class=got,
        shares=shares if epsilon > 0 else None,
        seconds=time.perf_counter() - t0,
        engine=used,
        engine_reason=why,
        reason=reason,
    )


def _exact(model, region, label, engine, engines, search, used, bar) -> None:
    others = [c for c in range(model.num_classes) if c != label]
    budget = engines.budget
    ub = sampled_upper_bound(model, region, label)
    if engine == "auto" and (ub is None or ub[0] > 2):  # an attack often finds a nearer one
        hit = beam_attack(
            model,
            region.with_radius(region.radius if ub is None else ub[0] - 1),
            label,
            budget=budget,
        )
        if hit is not None:
            ub = hit
    hi = region.radius if ub is None else ub[0] - 1  # every radius > hi is known unsafe
    if ub is not None:
        search.unsafe(*ub)
    envelope = region.with_radius(hi)
    gave_up: set[str] = set()
    r = 1
    while r <= hi:
        choice = choose_engine.for_ring(model, envelope, r, engine, frozenset(gave_up))
        if choice.whole_ball:
            x = _ball_slice(model, region.with_radius(r), others, choice, budget, engines.options)
            if x is _GAVE_UP:
                gave_up.add(choice.engine)
                continue
            used.setdefault(choice.engine, choice.reason)
        elif choice.per_ball:
            ball = region.with_radius(r)
            with REGISTRY[choice.engine].prepare(model, ball, budget, engines.options) as prepared:
                used.setdefault(choice.engine, choice.reason)
                x = prepared.find(ball, others, distances=[r])
        else:
            eng = REGISTRY.get(choice.engine)
            # an engine whose preparation grows with the envelope, with no upper bound
            # sampled, is prepared ball by ball (a compilation over every input costs more)
            env = (
                envelope
                if ub is not None or eng is None or eng.cheap_envelope
                else (region.with_radius(r))
            )
            prepared = engines.prepare(choice.engine, env, Capability.FIND)
            used.setdefault(choice.engine, choice.reason)
            x = prepared.find(env, others, distances=[r])
        if x is not None:
            search.unsafe(int(np.sum(x != region.center)), x)
            return
        search.lower = r
        bar(1)
        r += 1
    search.lower = hi


_GAVE_UP = np.zeros(0)


def _ball_slice(model, ball, others, choice, budget, options):
    """Return an input of ``ball`` in ``others`` (None: the ball is safe) from ``choice``'s
    engine within its slice of the budget, or ``_GAVE_UP`` past the slice."""
    left = budget.remaining()
    part = Budget(
        choice.slice_seconds if left is None else min(choice.slice_seconds, left),
        budget.max_nodes,
    )
    try:
        with REGISTRY[choice.engine].prepare(
            model, ball, part, Options(method=choice.method, backend=options.backend)
        ) as prepared:
            return prepared.find(None, others)
    except LimitReached:
        budget.check()  # the user's limit, not the slice: stop
        return _GAVE_UP
    finally:
        budget.peak_nodes = max(budget.peak_nodes, part.peak_nodes)


def share_needed(epsilon: float) -> Fraction:
    """Return the share of a ball that must keep the label under ``epsilon``: 1 − ε for the
    decimal the user wrote (0.3 is 3/10, not the binary double just below it), so a share
    of exactly 1 − ε still passes."""
    return 1 - Fraction(repr(float(epsilon)))


def _share(model, region, label, epsilon, engine, engines, search, shares, bar, used) -> None:
    need = share_needed(epsilon)
    others = [c for c in range(model.num_classes) if c != label]
    inside = 0  # inputs of the label in the ball of radius r
    for r in range(0, region.radius + 1):
        ball = region.with_radius(r)
        choice = choose_engine.for_ring_count(model, region, r, engine)
        used.setdefault(choice.engine, choice.reason)
        eng = REGISTRY.get(choice.engine)
        if eng is not None and not eng.cheap_envelope:
            prepared = engines.prepare(choice.engine, ball, Capability.COUNT, Capability.EXACT)
            inside = prepared.counts()[label]
        else:
            prepared = engines.prepare(choice.engine, region, Capability.COUNT, Capability.EXACT)
            inside += prepared.counts(ball, distances=[r])[label]
        shares.append(inside / ball.size)
        if Fraction(inside, ball.size) < need:
            x = prepared.find(ball, others, distances=[r])
            if x is None:  # pragma: no cover - the ring must hold one
                raise AssertionError("no adversarial input on the failing ring")
            search.unsafe(r, x)
            return
        search.lower = r
        if r:
            bar(1)


def _shrink(model, raw, steps, need, label, x):
    """Return (j, (ball, x′)): ``x`` (an input classified other than ``label``) with flipped
    pixels moved back to the centre, the farthest first, while the class stays another; j
    indexes the smallest step whose L∞ ball holds x′ (the largest need of its flips)."""
    x = np.array(x).reshape(-1)
    center = linf_ball(model, raw, 0).region.center
    for i in sorted(np.flatnonzero(x != center).tolist(), key=lambda i: -need[i]):
        x[i] = center[i]
        if int(classify(model, x)) == label:
            x[i] = -center[i]
    moved = np.flatnonzero(x != center)
    j = int(np.searchsorted(steps, need[moved].max())) if moved.size else 0
    return j, (linf_ball(model, raw, steps[j]), x)


def radius_linf(
    model: BNN,
    raw: np.ndarray,
    *,
    max_epsilon: float | None = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    client: Any = None,
) -> RadiusResult:
    """Return the L∞ robustness radius of a raw input (uint8 quantizer): the largest integer
    ε ≤ ``max_epsilon`` (default: the raw range) such that no raw input within ε changes the
    class, with a checked counterexample image at ε + 1. ``client`` (a
    ``dask.distributed.Client``): each ball is verified over its workers.

    A pixel becomes free once ε reaches its distance to the other side of its threshold, so
    the binary region only changes at those distances; robustness is monotone in ε (the balls
    are nested). :func:`~.verify.verify` is asked at those distances, galloping up from the
    smallest (small balls are cheap to prove) until one fails, then bisecting. Each
    counterexample is shrunk first (flips moved back to the centre, the farthest first, while
    the class stays another), which often lowers the upper bound by several steps at no
    engine cost. A limit reports the bounds proven so far.
    """
    check_limits(timeout, max_nodes)
    if not model.is_binary:
        raise RegionError(f"model {model.name} is multi-level: its L∞ radius is not supported yet")
    q = model.quantizer
    top = (q.high - q.low) if q is not None and max_epsilon is None else max_epsilon
    ball0 = linf_ball(model, raw, 0)  # validates the model, the image
    top = int(check_epsilon(top, q.raw))
    t0 = time.perf_counter()
    x, t = ball0.raw, q.threshold
    need = np.where(x < t, t - x, x - t + 1)  # ε at which each pixel can cross
    steps = sorted({int(d) for d in need if d <= top})
    label = int(classify(model, ball0.region.center))
    bar = as_progress(progress)
    bar.start(max(1, int(np.ceil(np.log2(len(steps) + 1)))), "probe")
    lo, hi = 0, len(steps)  # steps[:lo] are robust, steps[hi:] are not (hi: none known)
    engines_used: dict[str, str | None] = {}
    status, reason = "ok", None

    def left() -> float | None:
        return None if timeout is None else timeout - (time.perf_counter() - t0)

    def probe(mid: int, seconds: float | None) -> str:
        """Verify the ball at ``steps[mid]`` within ``seconds``: "robust", "not", or the
        reason it gave up."""
        nonlocal lo, hi, witness
        ball = linf_ball(model, raw, steps[mid])
        res = verify_region(
            model,
            ball.region,
            engine=engine,
            timeout=seconds,
            max_nodes=max_nodes,
            backend=backend,
            client=client,
        )
        engines_used.setdefault(res.engine, res.engine_reason)
        bar(1)
        if res.status != "ok":
            return res.reason or "unknown"
        if res.robust:
            lo = max(lo, mid + 1)
            return "robust"
        hi, witness = _shrink(model, raw, steps, need, label, res.counterexample)
        return "not"

    witness = None
    reach = 1  # galloping up from the small balls (cheap to prove), then bisecting
    while lo < hi:
        mid = min(lo + reach - 1, hi - 1) if witness is None else (lo + hi) // 2
        reach *= 2
        t = left()
        if t is not None and t <= 0:
            status, reason = "unknown", f"timeout: {timeout:g} s exceeded"
            break
        got = probe(mid, t)
        if got not in ("robust", "not"):
            status, reason = "unknown", got
            break
    done = status == "ok"
    lower = (steps[lo] - 1) if lo < len(steps) else top  # every ε up to it is safe
    upper = steps[hi] if hi < len(steps) else None
    image, got = None, None
    if witness is not None and upper == witness[0].epsilon:
        image = witness[0].raw_witness(witness[1])
        got = int(classify(model, q.quantize(image))[0])
        if got == label or np.abs(image - x).max() > upper:  # pragma: no cover
            raise AssertionError("L∞ counterexample does not check")
    return RadiusResult(
        status=status,
        label=label,
        radius=lower if done else None,
        radius_lower=lower,
        radius_upper=upper,
        max_radius=top,
        max_reached=done and upper is None,
        counterexample_image=None if image is None else image.tolist(),
        counterexample_class=got,
        norm="linf",
        seconds=time.perf_counter() - t0,
        engine="+".join(engines_used) or "none",
        engine_reason="; ".join(r for r in engines_used.values() if r) or None,
        reason=reason,
    )
