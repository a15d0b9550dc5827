"""Exact (or, on request, approximate) per-class counting over a region."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engines import REGISTRY, Capability, Options
from ..engines import choose as choose_engine
from ..errors import LimitReached
from ..limits import Budget
from ..linf import LinfBall, share
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .common import (
    Engines,
    Progress,
    adversarial_classes,
    as_progress,
    check_binary,
    check_limits,
    check_targets,
)
from .results import CountResult

__all__ = ["count", "count_linf"]

ON_KEYS = ("targets", "engine", "timeout", "max_nodes", "progress", "store", "parts")


def _work(model: BNN, region: Region, engine: str) -> tuple[int, str]:
    """Return (total, unit) of the progress an engine reports while counting."""
    if engine == "enum":
        return region.size, "input"
    return sum(b.out_size for b in model.blocks) + model.num_classes, "step"


def count(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    approx_epsilon: float = 0.8,
    approx_delta: float = 0.2,
    seed: int = 1,
    client: Any = None,
    store: Any = None,
) -> CountResult:
    """Count the inputs of ``region`` per predicted class.

    ``engine``: any registered engine that counts (``bdd4bnn.engines.names(COUNT)``) or
    "auto" (:mod:`bdd4bnn.engines.choose`). ``adversarial`` counts inputs classified
    differently from the centre (only as ``targets`` when given). Exact per-class counts are
    checked to sum to the region's size. ``approx_epsilon``, ``approx_delta``, ``seed``:
    ApproxMC's tolerance, confidence and seed (reported as ``epsilon`` and ``delta`` when the
    count is approximate). Stopped by a limit, the result is "unknown"; engines that settle
    inputs as they go (enumeration) then report per class the inputs counted so far
    (``per_class_lower``, ``settled``, ``adversarial_lower``; ``robust`` false when one of
    them is adversarial). ``client`` (a ``dask.distributed.Client``) splits the region into
    disjoint parts counted by its workers (:mod:`bdd4bnn.analyses.distributed`); ``store``
    (an SQLite file) keeps finished parts so that the same query resumes.

    >>> from bdd4bnn import Region, count, load_model
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> x = [1] * 100
    >>> res = count(net, Region.hamming(x, 1), engine="bdd")
    >>> res.total, sum(res.per_class), res.exact
    (101, 101, True)
    """
    check_limits(timeout, max_nodes)
    check_binary(model)
    if client is not None:  # one query over a Dask cluster
        from .distributed import count_on

        return count_on(
            client,
            model,
            region,
            targets=targets,
            engine=engine,
            timeout=timeout,
            max_nodes=max_nodes,
            progress=progress,
            store=store,
        )
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    choice = choose_engine.for_count(model, region, engine)
    if choice.node_ceiling is not None and max_nodes is None:
        budget.max_nodes = choice.node_ceiling
    bar = as_progress(progress)
    base = dict(label=label, total=region.size, targets=tg, region=region.describe())
    options = Options(backend=backend, epsilon=approx_epsilon, delta=approx_delta, seed=seed)
    reason = choice.reason
    with Engines(model, budget, options) as engines:
        try:
            try:
                bar.start(*_work(model, region, choice.engine))
                prepared = engines.prepare(choice.engine, region, Capability.COUNT, progress=bar)
                per_class = prepared.counts(progress=bar)
                if prepared.construction:
                    reason = (
                        f"{reason}; {prepared.construction}" if reason else prepared.construction
                    )
            except LimitReached as exc:
                fallback = choose_engine.count_fallback(choice, exc.kind, max_nodes, model, region)
                if fallback is None:
                    raise
                choice, reason = fallback, fallback.reason
                # the ceiling was the BDDs' own, not the user's; let their manager go
                budget.max_nodes, budget.nodes = None, None
                bar.start(*_work(model, region, choice.engine))
                prepared = engines.prepare(choice.engine, region, Capability.COUNT)
                per_class = prepared.counts(progress=bar)
                if prepared.construction:
                    reason = f"{reason}; {prepared.construction}"
        except LimitReached as exc:
            lower = exc.partial
            adv_lower = None
            if lower is not None:
                adv_lower = sum(lower[c] for c in adversarial_classes(label, len(lower), tg))
            return CountResult(
                status="unknown",
                reason=exc.reason,
                engine=choice.engine,
                engine_reason=reason,
                exact=False,
                seconds=time.perf_counter() - t0,
                peak_nodes=budget.peak_nodes,
                per_class_lower=lower,
                settled=None if lower is None else sum(lower),
                adversarial_lower=adv_lower,
                robust=False if adv_lower else None,  # one adversarial input settles it
                **base,
            )
    exact = REGISTRY[choice.engine].can(Capability.EXACT)
    if exact and sum(per_class) != region.size:  # pragma: no cover - an internal invariant
        raise AssertionError(f"per-class counts sum to {sum(per_class)}, not {region.size}")
    adv = sum(per_class[c] for c in adversarial_classes(label, model.num_classes, tg))
    return CountResult(
        status="ok",
        per_class=per_class,
        adversarial=adv,
        robust=adv == 0,
        seconds=time.perf_counter() - t0,
        engine=choice.engine,
        engine_reason=reason,
        exact=exact,
        epsilon=None if exact else approx_epsilon,
        delta=None if exact else approx_delta,
        peak_nodes=budget.peak_nodes,
        **base,
    )


def count_linf(model: BNN, ball: LinfBall, **kw: Any) -> CountResult:
    """Count an L∞ ball (:func:`bdd4bnn.linf.linf_ball`): per class its binary patterns
    (``per_class``, by :func:`count`'s engines) and its raw inputs (``per_class_images``,
    each pattern weighing the raw inputs it stands for: the engine's ``weighted_counts``,
    chosen by :func:`bdd4bnn.engines.choose.for_images`), with the adversarial share of the
    raw inputs as an exact fraction. A multi-level network is counted in its thermometer
    form (``ball.model``): one pattern per combination of the free pixels' levels.
    ``client`` and ``store``: the ball split over a Dask cluster, as :func:`count` does."""
    if kw.get("client") is not None:
        from .distributed import count_on

        on = {k: kw[k] for k in ON_KEYS if k in kw}
        return count_on(kw["client"], model, ball, **on)
    kw.pop("client", None), kw.pop("store", None)
    if ball.parts:
        return _count_boxes(ball, **kw)
    model = ball.model if ball.model is not None else model
    res = count(model, ball.region, **kw)
    res.region = ball.describe()
    if res.status != "ok" or not res.exact:
        return res
    timeout = kw.get("timeout")
    left = None if timeout is None else timeout - res.seconds  # one budget for both phases
    if left is not None and left <= 0:
        res.status, res.exact = "unknown", False
        res.reason = f"timeout: {timeout:g} s exceeded (before weighting raw inputs)"
        return res
    budget = Budget(left, kw.get("max_nodes"))
    region, center = ball.region, ball.region.center
    whole = ball.low + ball.high
    free = np.zeros(model.input_size, dtype=bool)
    free[list(region.free)] = True
    # fixed pixels weigh their whole interval at the centre's value (and nothing off it)
    low = np.where(free, ball.low, np.where(center < 0, whole, 0))
    high = np.where(free, ball.high, np.where(center > 0, whole, 0))
    choice = choose_engine.for_images(region)
    try:
        with REGISTRY[choice.engine].prepare(
            model, region, budget, Options(backend=kw.get("backend", "auto"))
        ) as prepared:
            images = prepared.weighted_counts(low, high)
    except LimitReached as exc:
        res.status, res.exact = "unknown", False
        res.reason = f"{exc.reason} (weighting raw inputs)"
        return res
    total = ball.total_images
    if sum(images) != total:  # pragma: no cover - an internal invariant
        raise AssertionError(f"raw inputs per class sum to {sum(images)}, not {total}")
    adv = sum(images[c] for c in adversarial_classes(res.label, model.num_classes, res.targets))
    res.per_class_images, res.total_images, res.adversarial_images = images, total, adv
    res.adversarial_share, res.adversarial_share_float = share(adv, total)
    res.engine_reason = "; ".join(r for r in (res.engine_reason, choice.reason) if r)
    return res


def _count_boxes(ball: LinfBall, **kw: Any) -> CountResult:
    """Count a split L∞ ball box by box (:func:`bdd4bnn.linf.linf_ball` with ``split``): the
    boxes are disjoint, so counts add; the label is the ball's centre's, one time limit
    covers every box."""
    t0 = time.perf_counter()
    source = ball.source
    assert source is not None and source.quantizer is not None
    label = int(classify(source, source.quantizer.quantize(ball.raw))[0])
    timeout = kw.pop("timeout", None)
    c = source.num_classes
    per_class, images = [0] * c, [0] * c
    tg = check_targets(source, kw.get("targets"))
    res = CountResult(status="ok", label=label, total=ball.size, targets=tg)
    engines = set()
    for part in ball.parts:
        left = None if timeout is None else timeout - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            res.status, res.exact = "unknown", False
            res.reason = f"timeout: {timeout:g} s exceeded ({len(ball.parts)} boxes)"
            break
        r = count_linf(source, part, timeout=left, **kw)
        engines.add(r.engine)
        if r.status != "ok" or not r.exact:
            res.status, res.exact, res.reason = r.status, r.exact, r.reason
            break
        assert r.per_class is not None and r.per_class_images is not None
        per_class = [a + b for a, b in zip(per_class, r.per_class, strict=True)]
        images = [a + b for a, b in zip(images, r.per_class_images, strict=True)]
    res.seconds = time.perf_counter() - t0
    res.engine = "+".join(sorted(engines))
    res.engine_reason = f"{len(ball.parts)} boxes of two levels per pixel, counted one by one"
    res.region = ball.describe()
    if res.status != "ok" or not res.exact:
        return res
    wanted = adversarial_classes(label, c, tg)
    res.per_class, res.per_class_images = per_class, images
    res.adversarial = sum(per_class[k] for k in wanted)
    res.robust = res.adversarial == 0
    res.total_images = ball.total_images
    res.adversarial_images = sum(images[k] for k in wanted)
    res.adversarial_share, res.adversarial_share_float = share(
        res.adversarial_images, res.total_images
    )
    return res
