"""Verification: does every input of a region keep the centre's class?"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..engines import Capability, Options
from ..engines import choose as choose_engine
from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .common import Engines, Progress, adversarial_classes, as_progress, check_limits, check_targets
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
) -> VerifyResult:
    """Decide whether every input of ``region`` keeps the centre's class.

    First ``samples`` uniform samples go through concrete inference (a sound falsifier); then
    ``engine`` (any registered engine that finds inputs, or "auto") decides. Every
    counterexample is re-checked by :func:`bdd4bnn.semantics.classify` before it is returned.

    >>> from bdd4bnn import Region, load_input, load_model, verify
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> x = load_input("examples/mnist_test_0_10x10.txt", 100)
    >>> verify(net, Region.hamming(x, 2)).robust
    True
    """
    check_limits(timeout, max_nodes)
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
