"""Cross-check a formal count with fast concrete inference (bdd4bnn.kernels).

Exhaustive: the region is streamed through :func:`bdd4bnn.kernels.predict`; the per-class
counts must equal the formal ones exactly. Sampling: N uniform samples of the region; for each
class, the formal share must lie in the Wilson score interval of the sampled share at
confidence ``confidence`` (Bonferroni-corrected over the classes, so the whole check has at
most 1 − confidence chance of a false alarm).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from ..engines import Capability, Options
from ..engines import choose as choose_engine
from ..errors import LimitReached, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .common import Engines, Progress, as_progress, check_binary, check_limits
from .results import Result, Status

__all__ = ["CrossCheckResult", "crosscheck", "wilson"]


@dataclass
class CrossCheckResult(Result):
    status: Status  # "unknown": the formal engine hit a limit
    label: int
    total: int
    mode: str  # "exhaustive" or "samples"
    formal: list[int] | None = None
    observed: list[int] = field(default_factory=list)
    samples: int = 0
    intervals: list[list[float]] | None = None
    confidence: float | None = None
    consistent: bool | None = None
    engine: str = "bdd"
    path: str = "auto"
    formal_seconds: float = 0.0
    concrete_seconds: float = 0.0
    reason: str | None = None


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def crosscheck(
    model: BNN,
    region: Region,
    *,
    samples: int | None = None,
    exhaustive: bool = False,
    engine: str = "bdd",
    path: str = "auto",
    confidence: float = 0.999,
    seed: int = 0,
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    source: BNN | None = None,
) -> CrossCheckResult:
    """Compare the formal per-class counts with concrete inference (see the module doc).

    ``source``: the multi-level network whose thermometer form ``model`` is (an L∞ ball's
    ``model`` and ``source``); the concrete pass then classifies ``source`` itself on the
    level patterns, a route independent of the form the engines read.

    >>> from bdd4bnn import Region, crosscheck, load_input, load_model
    >>> net = load_model("models/mnist_10x10_100-50-20-10.json")
    >>> x = load_input("examples/mnist_test_0_10x10.txt", 100)
    >>> crosscheck(net, Region.hamming(x, 2), exhaustive=True, path="float32").consistent
    True
    """
    check_limits(timeout, max_nodes)
    check_binary(model)
    budget = Budget(timeout, max_nodes)  # from here: importing the kernels counts too
    from ..jit import compiled_call
    from ..kernels.predict import PATHS, check_path

    if path not in PATHS:
        check_path(path)  # the one-line error
    if exhaustive == (samples is not None):
        raise RegionError("give exactly one of samples or exhaustive")
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int) or samples < 1
    ):
        raise RegionError(f"samples: expected an integer >= 1, got {samples!r}")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, float | int)
        or not 0 < confidence < 1
    ):
        raise RegionError(f"confidence: must lie in (0, 1), got {confidence!r}")
    bar = as_progress(progress)
    choice = choose_engine.for_count(model, region, engine)
    t_formal = time.perf_counter()
    per_class, status, reason = None, "ok", None
    try:
        with Engines(model, budget, Options(backend=backend)) as engines:
            per_class = engines.prepare(
                choice.engine, region, Capability.COUNT, Capability.EXACT
            ).counts()
    except LimitReached as exc:
        status, reason = "unknown", exc.reason
    res = CrossCheckResult(
        status=status,
        label=int(classify(model, region.center)),
        total=region.size,
        mode="exhaustive" if exhaustive else "samples",
        formal=per_class,
        engine=choice.engine,
        path=path,
        formal_seconds=time.perf_counter() - t_formal,
        reason=reason,
    )
    if per_class is None:
        return res
    try:  # resolving the path imports torch (seconds in a fresh process): within the limit
        res.path = used_path = compiled_call(budget, check_path, path)
        from ..kernels import predict
    except LimitReached as exc:
        res.status, res.reason = "unknown", f"{exc.reason} (loading the inference path)"
        return res
    c = model.num_classes
    t0 = time.perf_counter()
    observed = np.zeros(c, dtype=np.int64)
    if source is not None:
        from ..thermometer import unfold

        form = unfold(source)
        if form.model.input_size != model.input_size:
            raise RegionError("source: its thermometer form is not the model given")

        def classes(x: np.ndarray) -> np.ndarray:
            return predict(source, form.to_levels(x), used_path)

    else:

        def classes(x: np.ndarray) -> np.ndarray:
            return predict(model, x, used_path)

    try:  # the concrete pass honours the same time limit
        if exhaustive:
            bar.start(region.size, "input")
            for x in region.iter_points():
                observed += np.bincount(classes(x), minlength=c)
                bar(len(x))
                budget.check()
            res.samples = region.size
        else:
            assert samples is not None
            bar.start(samples, "sample")
            for start in range(0, samples, 65536):
                x = region.sample(min(65536, samples - start), seed=seed + start)
                observed += np.bincount(classes(x), minlength=c)
                bar(len(x))
                budget.check()
            res.samples = samples
    except LimitReached as exc:
        res.status, res.reason = "unknown", f"{exc.reason} (in the concrete pass)"
        res.concrete_seconds = time.perf_counter() - t0
        return res
    res.concrete_seconds = time.perf_counter() - t0
    res.observed = [int(v) for v in observed]
    if exhaustive:
        res.consistent = res.observed == per_class
    else:
        z = NormalDist().inv_cdf(1 - (1 - confidence) / (2 * c))
        res.confidence = confidence
        res.intervals = [list(wilson(int(o), res.samples, z)) for o in observed]
        res.consistent = all(
            lo <= f / region.size <= hi
            for (lo, hi), f in zip(res.intervals, per_class, strict=True)
        )
    return res
