"""Verification: does every input of a region keep the centre's class?"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engines import Capability, Options
from ..engines import choose as choose_engine
from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..linf import LinfBall
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
from .results import VerifyResult

__all__ = ["verify", "checked"]


def checked(model: BNN, region: Region, x: np.ndarray, wanted: Sequence[int], by: str) -> int:
    """Return the class of a counterexample ``x`` after re-checking it by concrete inference
    (in ``wanted`` and inside ``region``); a failure is an internal error."""
    got = int(classify(model, x))
    if got not in wanted or not region.contains(x)[0]:  # pragma: no cover - invariant
        raise AssertionError(f"{by} counterexample failed the concrete re-check")
    return got


def verify(
    model: BNN,
    region: Region,
    *,
    targets: Sequence[int] | None = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    solver: str = "glucose4",
    samples: int = 2048,
    client: Any = None,
    store: Any = None,
) -> VerifyResult:
    """Decide whether every input of ``region`` keeps the centre's class.

    First ``samples`` uniform samples go through concrete inference (a sound falsifier); then
    ``engine`` (any registered engine that finds inputs, or "auto") decides. Every
    counterexample is re-checked by :func:`bdd4bnn.semantics.classify` before it is returned.
    ``client`` (a ``dask.distributed.Client``) splits the region into disjoint parts searched
    by its workers, stopping at the first counterexample (:mod:`bdd4bnn.analyses.distributed`);
    ``store`` (an SQLite file) keeps the parts proven robust so that the same query resumes.

    >>> from bdd4bnn import Region, load_input, load_model, verify
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> x = load_input("examples/mnist_test_0_10x10.txt", 100)
    >>> verify(net, Region.hamming(x, 2)).robust
    True
    """
    check_limits(timeout, max_nodes)
    check_binary(model)
    if client is not None:  # one query over a Dask cluster
        from .distributed import verify_on

        return verify_on(
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
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise RegionError(f"samples: expected an integer >= 0, got {samples!r}")
    t0 = time.perf_counter()
    tg = check_targets(model, targets)
    label = int(classify(model, region.center))
    budget = Budget(timeout, max_nodes)
    choice = choose_engine.for_find(model, region, engine)
    wanted = adversarial_classes(label, model.num_classes, tg)
    bar = as_progress(progress)
    base = dict(
        label=label,
        targets=tg,
        region=region.describe(),
        engine=choice.engine,
        engine_reason=choice.reason,
    )

    def done(x: np.ndarray | None, found_by: str) -> VerifyResult:
        common = dict(seconds=time.perf_counter() - t0, peak_nodes=budget.peak_nodes, **base)
        if x is None:
            return VerifyResult(status="ok", robust=True, **common)
        flipped = [int(i) for i in np.flatnonzero(x != region.center)]
        return VerifyResult(
            status="ok",
            robust=False,
            counterexample=[int(v) for v in x],
            counterexample_class=checked(model, region, x, wanted, found_by),
            flipped=flipped,
            found_by=found_by,
            **common,
        )

    if not wanted:
        return done(None, choice.engine)
    if samples > 0:
        xs = region.sample(min(samples, region.size))
        hits = np.flatnonzero(np.isin(classify(model, xs), wanted))
        if hits.size:
            return done(xs[hits[0]], "sampling")
    options = Options(backend=backend, solver=solver)
    try:
        with Engines(model, budget, options) as engines:
            bar.start(sum(b.out_size for b in model.blocks) + model.num_classes, "step")
            prepared = engines.prepare(choice.engine, region, Capability.FIND, progress=bar)
            x = prepared.find(None, wanted)
    except LimitReached as exc:
        return VerifyResult(
            status="unknown",
            reason=exc.reason,
            seconds=time.perf_counter() - t0,
            peak_nodes=budget.peak_nodes,
            **base,
        )
    return done(x, choice.engine)


def verify_part(model: BNN, part: Region, wanted: Sequence[int], **kw: Any) -> VerifyResult:
    """Return whether some input of ``part`` (one part of a larger region whose label is not
    in ``wanted``) is classified in ``wanted``: its centre when it is, else
    :func:`verify` asked for those classes from the part's centre."""
    corner = int(classify(model, part.center))
    if corner in wanted:  # the part's own centre is adversarial
        r = VerifyResult(status="ok", label=corner, robust=False, found_by="centre")
        r.counterexample, r.counterexample_class = part.center.tolist(), corner
        r.flipped = []
        return r
    return verify(model, part, targets=list(wanted), **kw)


def verify_linf(model: BNN, ball: LinfBall, **kw: Any) -> VerifyResult:
    """Verify an L∞ ball (:func:`bdd4bnn.linf.linf_ball`; a multi-level network in its
    thermometer form, ``ball.model``; a split ball box by box, each box asked for any class
    but the centre's, one time limit for all). ``raw_counterexample`` is a raw image of the
    ball that the network puts in another class (re-checked). ``client`` and ``store``: the
    ball split over a Dask cluster, as :func:`verify` does."""
    if kw.get("client") is not None:
        from .count import ON_KEYS
        from .distributed import verify_on

        on = {k: kw[k] for k in ON_KEYS if k in kw}
        return verify_on(kw["client"], model, ball, **on)
    kw.pop("client", None), kw.pop("store", None)
    if not ball.parts:
        net = ball.model if ball.model is not None else model
        res = verify(net, ball.region, **kw)
        if res.counterexample is not None:
            res.raw_counterexample = ball.raw_witness(res.counterexample).tolist()
            if ball.source is not None:
                res.flipped = _moved(ball, res.raw_counterexample)
        res.region = ball.describe()
        return res
    t0 = time.perf_counter()
    source = ball.source
    assert source is not None and source.quantizer is not None
    label = int(classify(source, source.quantizer.quantize(ball.raw))[0])
    tg = check_targets(source, kw.pop("targets", None))
    wanted = adversarial_classes(label, source.num_classes, tg)
    timeout = kw.pop("timeout", None)
    res = VerifyResult(status="ok", label=label, robust=True, targets=tg)
    for part in ball.parts:
        left = None if timeout is None else timeout - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            res.status, res.robust = "unknown", None
            res.reason = f"timeout: {timeout:g} s exceeded ({len(ball.parts)} boxes)"
            break
        assert part.model is not None
        r = verify_part(part.model, part.region, wanted, timeout=left, **kw)
        res.engine, res.engine_reason = r.engine, r.engine_reason
        if r.status != "ok":
            res.status, res.robust, res.reason = r.status, None, r.reason
            break
        if not r.robust:
            assert r.counterexample is not None
            res.robust, res.found_by = False, r.found_by
            res.counterexample, res.counterexample_class = r.counterexample, r.counterexample_class
            res.raw_counterexample = part.raw_witness(r.counterexample).tolist()
            res.flipped = _moved(ball, res.raw_counterexample)
            raw = np.asarray(res.raw_counterexample)
            got = int(classify(source, source.quantizer.quantize(raw))[0])
            if got != r.counterexample_class:  # pragma: no cover - an internal invariant
                raise AssertionError("a raw counterexample changed class")
            break
    res.seconds = time.perf_counter() - t0
    res.region = ball.describe()
    return res


def _moved(ball: LinfBall, raw: list[int]) -> list[int]:
    """Return the pixels whose level differs between the ball's centre and ``raw``."""
    q = ball.source.quantizer if ball.source is not None else None
    assert q is not None
    a, b = q.quantize(ball.raw)[0], q.quantize(np.asarray(raw))[0]
    return [int(i) for i in np.flatnonzero(a != b)]
