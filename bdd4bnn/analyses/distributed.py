"""One query over many Dask workers: the region split into disjoint parts, each answered by a
worker with any engine, exact per-class counts summed as Python integers.

The parts come from :meth:`bdd4bnn.region.Region.split` (the largest part halved on its first
free pixel until there are as many as :func:`bdd4bnn.engines.choose.parts_for` says), so they
are disjoint and cover the region; each is an ordinary region, so every engine (and the
``auto`` choice, per part) answers it. ``count`` adds the parts' counts; ``verify`` asks each
part for the classes other than the centre's (:func:`~bdd4bnn.analyses.verify.verify_part`)
and cancels the rest at the first counterexample, re-checked here by the reference inference.
Dask reruns the part of a lost worker; a time limit covers the whole query (unfinished parts
are cancelled and the answer is "unknown"). With ``store`` (an SQLite file), each finished
part's answer is kept under a digest of the query (model arrays, region, parts, engine,
question), so the same query run again — after an interruption, a limit or a crash — only
sends the parts not yet done.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InputError
from ..linf import LinfBall, share
from ..model import BNN
from ..region import Region
from ..semantics import classify
from .common import Progress, adversarial_classes, as_progress, check_limits, check_targets
from .results import CountResult, RadiusResult, VerifyResult

__all__ = [
    "connect",
    "count_on",
    "verify_on",
    "radius_on",
    "CONNECT_SECONDS",
]

CONNECT_SECONDS = 8.0  # an unreachable scheduler is an error after this long


def connect(address: str) -> Any:
    """Return a ``dask.distributed.Client`` of the scheduler at ``address``, or a one-line
    :class:`~bdd4bnn.errors.InputError` within :data:`CONNECT_SECONDS`."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "a scheduler needs dask.distributed: pip install -c constraints.txt -e '.[cluster]'"
        ) from None
    try:
        return Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"--scheduler {address}: cannot reach it within {CONNECT_SECONDS:g} s "
            f"({type(exc).__name__})"
        ) from None


class _Store:
    """Finished parts of distributed queries, in one SQLite table (or nowhere)."""

    def __init__(self, path: Any, key: str) -> None:
        self.key, self.db = key, None
        if path is not None:
            import sqlite3

            try:
                self.db = sqlite3.connect(str(path), timeout=30)
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS query_parts "
                    "(query TEXT, part INTEGER, answer TEXT, PRIMARY KEY (query, part))"
                )
            except sqlite3.Error as exc:
                raise InputError(f"{path}: not a usable SQLite file ({exc})") from None

    def done(self) -> dict[int, Any]:
        if self.db is None:
            return {}
        rows = self.db.execute("SELECT part, answer FROM query_parts WHERE query = ?", (self.key,))
        return {int(i): json.loads(a) for i, a in rows}

    def keep(self, part: int, answer: Any) -> None:
        if self.db is not None:
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO query_parts VALUES (?, ?, ?)",
                    (self.key, part, json.dumps(answer)),
                )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _digest(model: BNN, region: Region | LinfBall, pieces: int, *extra: Any) -> str:
    """Return a digest of the query: every array of the model, the region, the parts."""
    h = hashlib.sha256()
    arrays = [model.output.weight, model.output.bias]
    for b in model.blocks:
        arrays += [b.weight, b.bias]
        if b.bn is not None:
            arrays += [b.bn.gamma, b.bn.beta, b.bn.mean, b.bn.var, np.array([b.bn.eps])]
        if b.thresholds is not None:
            arrays.append(b.thresholds)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(str(a.shape).encode())
    if isinstance(region, LinfBall):
        h.update(region.raw.tobytes())
        free = [list(p.region.free) for p in region.parts or (region,)]
    else:
        h.update(region.center.tobytes())
        free = list(region.free)
    h.update(json.dumps([region.describe(), free, pieces, *extra]).encode())
    return h.hexdigest()


def _parts(client: Any, region: Any, parts: int | None, store: Any = None) -> list[Any]:
    if parts is None:
        from ..engines import choose

        workers = len(client.scheduler_info().get("workers", {}))
        parts = choose.parts_for(workers, store is not None)
    return region.split(parts)


def _count_part(
    model: BNN, part: Region | LinfBall, engine: str, timeout: Any, max_nodes: Any
) -> tuple:
    """Count a part: its patterns per class and, for a part of an L∞ ball, its raw inputs."""
    from .count import count, count_linf

    kw = dict(engine=engine, timeout=timeout, max_nodes=max_nodes)
    r = count_linf(model, part, **kw) if isinstance(part, LinfBall) else count(model, part, **kw)
    return r.status, r.per_class, r.exact, r.reason, r.engine, r.per_class_images


def _verify_part(
    model: BNN, part: Region, wanted: list[int], engine: str, timeout: Any, max_nodes: Any
) -> VerifyResult:
    from .verify import verify_part

    return verify_part(model, part, wanted, engine=engine, timeout=timeout, max_nodes=max_nodes)


def _left(t0: float, timeout: float | None) -> float | None:
    return None if timeout is None else max(1e-3, timeout - (time.perf_counter() - t0))


class _Query:
    """What ``count_on`` and ``verify_on`` share: the checked arguments, the parts, the store
    of finished parts (and those already done), the progress bar, the model on the workers."""

    def __init__(self, client: Any, model: BNN, region: Any, kind: str, kw: dict) -> None:
        check_limits(kw.get("timeout"), kw.get("max_nodes"))
        self.t0 = time.perf_counter()
        self.ball = region if isinstance(region, LinfBall) else None
        if self.ball is not None:  # the network its patterns are over (a thermometer form)
            model = self.ball.model or model
            self.label = self.ball.center_class(model)
        else:
            self.label = int(classify(model, region.center))
        self.client, self.model, self.region = client, model, region
        self.timeout, self.max_nodes = kw.get("timeout"), kw.get("max_nodes")
        self.engine = kw.get("engine", "auto")
        self.targets = check_targets(model, kw.get("targets"))
        self.wanted = adversarial_classes(self.label, model.num_classes, self.targets)
        store = kw.get("store")
        self.pieces = _parts(client, region, kw.get("parts"), store)
        digest = _digest(model, region, len(self.pieces), kind, self.engine, self.targets)
        self.kept = _Store(store, digest)
        self.done = self.kept.done()
        self.bar = as_progress(kw.get("progress"))
        self.bar.start(region.size, "input")
        for i in self.done:
            self.bar(self.pieces[i].size)
        self.shared = client.scatter(model, broadcast=True, hash=False)  # once per worker

    def submit(self, fn: Any, *args: Any, regions: bool = False) -> dict[Any, int]:
        """Submit ``fn(model, part, *args, engine, timeout, max_nodes)`` for the parts not done
        (the parts of an L∞ ball without the networks they carry, or only their regions);
        return {future: part index}."""

        def sent(p: Any) -> Any:
            if not isinstance(p, LinfBall):
                return p
            return p.region if regions else replace(p, model=None, source=None)

        return {
            self.client.submit(
                fn,
                self.shared,
                sent(p),
                *args,
                self.engine,
                self.timeout,
                self.max_nodes,
                pure=False,
            ): i
            for i, p in enumerate(self.pieces)
            if i not in self.done
        }

    def finish(self, futures: dict[Any, int], res: Any, earlier: str) -> None:
        self.client.cancel(list(futures))
        self.kept.close()
        res.seconds = time.perf_counter() - self.t0
        res.engine_reason = (
            f"{len(self.pieces)} disjoint parts on {_workers(self.client)} Dask workers"
            + (f" ({len(self.done)} {earlier})" if self.done else "")
        )
        res.region = self.region.describe()

    def timed_out(self) -> str:
        return f"timeout: {self.timeout:g} s exceeded ({len(self.pieces)} parts)"


def count_on(
    client: Any,
    model: BNN,
    region: Region | LinfBall,
    *,
    targets: Any = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    parts: int | None = None,
    store: Any = None,
) -> CountResult:
    """Count ``region`` per class on the workers of ``client`` (module docstring); an L∞ ball
    (:func:`bdd4bnn.linf.linf_ball`) per class both as patterns and as raw inputs."""
    from distributed import as_completed

    kw = dict(targets=targets, engine=engine, timeout=timeout, max_nodes=max_nodes)
    q = _Query(
        client, model, region, "count", dict(kw, progress=progress, parts=parts, store=store)
    )
    c = q.model.num_classes
    per_class, images = [0] * c, [0] * c

    def add(counts: list[int], raw: list[int] | None) -> None:
        per_class[:] = [a + b for a, b in zip(per_class, counts, strict=True)]
        if q.ball is not None:
            assert raw is not None
            images[:] = [a + b for a, b in zip(images, raw, strict=True)]

    for kept in q.done.values():
        add(*(kept if q.ball is not None else (kept, None)))
    futures = q.submit(_count_part)
    res = CountResult(status="ok", label=q.label, total=region.size, targets=q.targets)
    engines: set[str] = set()
    try:
        for fut in as_completed(futures, timeout=timeout):
            status, counts, exact, reason, used, raw = fut.result()
            engines.add(used)
            if status != "ok" or not exact:
                res.status, res.exact, res.reason = "unknown", False, reason or "inexact part"
                break
            add(counts, raw)
            q.kept.keep(futures[fut], [counts, raw] if q.ball is not None else counts)
            q.bar(q.pieces[futures[fut]].size)
    except TimeoutError:
        res.status, res.exact, res.reason = "unknown", False, q.timed_out()
    finally:
        q.finish(futures, res, "kept from an earlier run")
    res.engine = "+".join(sorted(engines)) or engine
    if res.status != "ok":
        return res
    if sum(per_class) != region.size:  # pragma: no cover - an internal invariant
        raise AssertionError(f"parts sum to {sum(per_class)}, not {region.size}")
    res.per_class = per_class
    res.adversarial = sum(per_class[k] for k in q.wanted)
    res.robust = res.adversarial == 0
    if q.ball is not None:
        total = q.ball.total_images
        if sum(images) != total:  # pragma: no cover - an internal invariant
            raise AssertionError(f"raw inputs per class sum to {sum(images)}, not {total}")
        res.per_class_images, res.total_images = images, total
        res.adversarial_images = sum(images[k] for k in q.wanted)
        res.adversarial_share, res.adversarial_share_float = share(res.adversarial_images, total)
    return res


def verify_on(
    client: Any,
    model: BNN,
    region: Region | LinfBall,
    *,
    targets: Any = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    parts: int | None = None,
    store: Any = None,
) -> VerifyResult:
    """Verify ``region`` on the workers of ``client``; stop at the first counterexample (of
    an L∞ ball, with a raw image: ``raw_counterexample``)."""
    from distributed import as_completed

    kw = dict(targets=targets, engine=engine, timeout=timeout, max_nodes=max_nodes)
    q = _Query(
        client, model, region, "verify", dict(kw, progress=progress, parts=parts, store=store)
    )
    futures = q.submit(_verify_part, q.wanted, regions=True)
    res = VerifyResult(status="ok", label=q.label, robust=True, targets=q.targets)
    try:
        for fut in as_completed(futures, timeout=timeout):
            r = fut.result()
            res.engine = r.engine
            if r.status != "ok":
                res.status, res.robust, res.reason = r.status, None, r.reason
                break
            if not r.robust:
                res.robust, res.found_by = False, r.found_by
                _counterexample(q, q.pieces[futures[fut]], r.counterexample, res)
                break
            q.kept.keep(futures[fut], "robust")
            q.bar(q.pieces[futures[fut]].size)
    except TimeoutError:
        res.status, res.robust, res.reason = "unknown", None, q.timed_out()
    finally:
        q.finish(futures, res, "proven robust by an earlier run")
    return res


def _counterexample(q: _Query, part: Region | LinfBall, x: Any, res: VerifyResult) -> None:
    """Re-check a part's counterexample ``x`` here and put it in ``res`` (for a part of an L∞
    ball, with a raw image of the ball that binarizes to it)."""
    x = np.asarray(x)
    got = int(classify(q.model, x))
    region = part.region if isinstance(part, LinfBall) else part
    if got not in q.wanted or not region.contains(x)[0]:  # pragma: no cover
        raise AssertionError("a part's counterexample failed the re-check")
    res.counterexample, res.counterexample_class = x.tolist(), got
    if not isinstance(part, LinfBall):
        res.flipped = [int(i) for i in q.region.free if x[i] != q.region.center[i]]
        return
    assert q.ball is not None
    raw, home = part.raw_witness(x), q.ball.image
    src = part.source or q.model
    assert src.quantizer is not None
    levels, home_levels = src.quantizer.quantize(raw)[0], src.quantizer.quantize(home)[0]
    if int(classify(src, levels)) != got or np.abs(raw - home).max() > q.ball.epsilon:
        raise AssertionError("a raw counterexample does not check")  # pragma: no cover
    res.raw_counterexample = raw.tolist()
    res.flipped = [int(i) for i in np.flatnonzero(levels != home_levels)]


def _workers(client: Any) -> int:
    return len(client.scheduler_info().get("workers", {}))


def radius_on(
    client: Any,
    model: BNN,
    region: Region,
    *,
    epsilon: float = 0.0,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
) -> RadiusResult:
    """Return the robustness radius of ``region.center`` within ``region`` on the workers of
    ``client``: whole balls are verified on the cluster (:func:`verify_on`), galloping up
    (1, 2, 4, …) until one holds a counterexample, whose distance bounds the radius from
    above, then bisecting between the proven bounds. With ``epsilon`` > 0 (the share of
    misclassified inputs tolerated in each ball, :func:`bdd4bnn.analyses.radius.radius`),
    the balls of radius 0, 1, 2, … are counted on the cluster (:func:`count_on`) until one
    holds too few inputs of the label. A limit reports the bounds so far."""
    from .radius import share_needed

    check_limits(timeout, max_nodes)
    t0 = time.perf_counter()
    label = int(classify(model, region.center))
    lower, upper, witness, wclass = 0, None, None, None
    res = RadiusResult(
        status="ok", label=label, max_radius=region.radius, engine=engine, epsilon=epsilon
    )
    bar = as_progress(progress)
    bar.start(region.radius, "radius")
    kw = dict(engine=engine, max_nodes=max_nodes)

    def ball(r: int) -> VerifyResult:
        v = verify_on(client, model, region.with_radius(r), timeout=_left(t0, timeout), **kw)
        if v.status != "ok":
            raise TimeoutError(v.reason)
        return v

    def unsafe(v: VerifyResult) -> int:
        nonlocal witness, wclass
        witness, wclass = v.counterexample, v.counterexample_class
        return sum(1 for i in region.free if witness[i] != region.center[i])

    step = 1
    try:
        if epsilon:
            need, res.shares = share_needed(epsilon), []
            for r in range(region.radius + 1):
                b = region.with_radius(r)
                c = count_on(client, model, b, timeout=_left(t0, timeout), **kw)
                if c.status != "ok":
                    raise TimeoutError(c.reason)
                inside = c.per_class[label]
                res.shares.append(inside / b.size)
                if Fraction(inside, b.size) < need:
                    unsafe(ball(r))
                    upper = r
                    break
                lower = r
                if r:
                    bar(1)
        while not epsilon and upper is None and lower < region.radius:  # gallop
            r = min(region.radius, lower + step)
            v = ball(r)
            if v.robust:
                bar(r - lower)
                lower, step = r, 2 * step
            else:
                upper = unsafe(v)
        while not epsilon and upper is not None and upper - lower > 1:  # bisect
            r = (lower + upper) // 2
            v = ball(r)
            if v.robust:
                lower = r
            else:
                upper = unsafe(v)
    except TimeoutError as exc:
        res.status, res.reason = "unknown", str(exc) or f"timeout: {timeout:g} s exceeded"
    res.radius_lower, res.radius_upper = lower, upper
    if res.status == "ok":
        res.radius = lower
        res.max_reached = upper is None
    res.counterexample, res.counterexample_class = witness, wclass
    res.seconds = time.perf_counter() - t0
    what = "balls counted" if epsilon else "balls verified"
    res.engine_reason = f"{what} in disjoint parts on {_workers(client)} Dask workers"
    return res
