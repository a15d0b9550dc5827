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
from typing import Any

import numpy as np

from ..errors import InputError
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


def _digest(model: BNN, region: Region, pieces: int, *extra: Any) -> str:
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
    h.update(region.center.tobytes())
    h.update(json.dumps([region.describe(), list(region.free), pieces, *extra]).encode())
    return h.hexdigest()


def _parts(client: Any, region: Region, parts: int | None, store: Any = None) -> list[Region]:
    if parts is None:
        from ..engines import choose

        workers = len(client.scheduler_info().get("workers", {}))
        parts = choose.parts_for(workers, store is not None)
    return region.split(parts)


def _count_part(model: BNN, part: Region, engine: str, timeout: Any, max_nodes: Any) -> tuple:
    from .count import count

    r = count(model, part, engine=engine, timeout=timeout, max_nodes=max_nodes)
    return r.status, r.per_class, r.exact, r.reason, r.engine


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

    def __init__(self, client: Any, model: BNN, region: Region, kind: str, kw: dict) -> None:
        check_limits(kw.get("timeout"), kw.get("max_nodes"))
        self.t0 = time.perf_counter()
        self.client, self.model, self.region = client, model, region
        self.timeout, self.max_nodes = kw.get("timeout"), kw.get("max_nodes")
        self.engine = kw.get("engine", "auto")
        self.targets = check_targets(model, kw.get("targets"))
        self.label = int(classify(model, region.center))
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

    def submit(self, fn: Any, *args: Any) -> dict[Any, int]:
        """Submit ``fn(model, part, *args, engine, timeout, max_nodes)`` for the parts not done;
        return {future: part index}."""
        return {
            self.client.submit(
                fn, self.shared, p, *args, self.engine, self.timeout, self.max_nodes, pure=False
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
    region: Region,
    *,
    targets: Any = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    parts: int | None = None,
    store: Any = None,
) -> CountResult:
    """Count ``region`` per class on the workers of ``client`` (module docstring)."""
    from distributed import as_completed

    kw = dict(targets=targets, engine=engine, timeout=timeout, max_nodes=max_nodes)
    q = _Query(
        client, model, region, "count", dict(kw, progress=progress, parts=parts, store=store)
    )
    per_class = [0] * model.num_classes
    for counts in q.done.values():
        per_class = [a + b for a, b in zip(per_class, counts, strict=True)]
    futures = q.submit(_count_part)
    res = CountResult(status="ok", label=q.label, total=region.size, targets=q.targets)
    engines: set[str] = set()
    try:
        for fut in as_completed(futures, timeout=timeout):
            status, counts, exact, reason, used = fut.result()
            engines.add(used)
            if status != "ok" or not exact:
                res.status, res.exact, res.reason = "unknown", False, reason or "inexact part"
                break
            per_class = [a + b for a, b in zip(per_class, counts, strict=True)]
            q.kept.keep(futures[fut], counts)
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
    res.adversarial = sum(per_class[c] for c in q.wanted)
    res.robust = res.adversarial == 0
    return res


def verify_on(
    client: Any,
    model: BNN,
    region: Region,
    *,
    targets: Any = None,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
    parts: int | None = None,
    store: Any = None,
) -> VerifyResult:
    """Verify ``region`` on the workers of ``client``; stop at the first counterexample."""
    from distributed import as_completed

    kw = dict(targets=targets, engine=engine, timeout=timeout, max_nodes=max_nodes)
    q = _Query(
        client, model, region, "verify", dict(kw, progress=progress, parts=parts, store=store)
    )
    futures = q.submit(_verify_part, q.wanted)
    res = VerifyResult(status="ok", label=q.label, robust=True, targets=q.targets)
    try:
        for fut in as_completed(futures, timeout=timeout):
            r = fut.result()
            res.engine = r.engine
            if r.status != "ok":
                res.status, res.robust, res.reason = r.status, None, r.reason
                break
            if not r.robust:
                x = r.counterexample
                got = int(classify(model, x))
                if got not in q.wanted or not region.contains(x)[0]:  # pragma: no cover
                    raise AssertionError("a part's counterexample failed the re-check")
                res.robust, res.found_by = False, r.found_by
                res.counterexample, res.counterexample_class = list(x), got
                res.flipped = [int(i) for i in region.free if x[i] != region.center[i]]
                break
            q.kept.keep(futures[fut], "robust")
            q.bar(q.pieces[futures[fut]].size)
    except TimeoutError:
        res.status, res.robust, res.reason = "unknown", None, q.timed_out()
    finally:
        q.finish(futures, res, "proven robust by an earlier run")
    return res


def _workers(client: Any) -> int:
    return len(client.scheduler_info().get("workers", {}))


def radius_on(
    client: Any,
    model: BNN,
    region: Region,
    *,
    engine: str = "auto",
    timeout: float | None = None,
    max_nodes: int | None = None,
    progress: Progress | None = None,
) -> RadiusResult:
    """Return the robustness radius of ``region.center`` within ``region`` on the workers of
    ``client``: whole balls are verified on the cluster (:func:`verify_on`), galloping up
    (1, 2, 4, …) until one holds a counterexample, whose distance bounds the radius from
    above, then bisecting between the proven bounds. A limit reports the bounds so far."""
    check_limits(timeout, max_nodes)
    t0 = time.perf_counter()
    label = int(classify(model, region.center))
    lower, upper, witness, wclass = 0, None, None, None
    res = RadiusResult(status="ok", label=label, max_radius=region.radius, engine=engine)
    bar = as_progress(progress)
    bar.start(region.radius, "radius")

    def ball(r: int) -> VerifyResult:
        left = _left(t0, timeout)
        return verify_on(
            client, model, region.with_radius(r), engine=engine, timeout=left, max_nodes=max_nodes
        )

    step = 1
    try:
        while upper is None and lower < region.radius:  # gallop
            r = min(region.radius, lower + step)
            v = ball(r)
            if v.status != "ok":
                raise TimeoutError(v.reason)
            if v.robust:
                bar(r - lower)
                lower, step = r, 2 * step
            else:
                witness, wclass = v.counterexample, v.counterexample_class
                upper = sum(1 for i in region.free if witness[i] != region.center[i])
        while upper is not None and upper - lower > 1:  # bisect
            r = (lower + upper) // 2
            v = ball(r)
            if v.status != "ok":
                raise TimeoutError(v.reason)
            if v.robust:
                lower = r
            else:
                witness, wclass = v.counterexample, v.counterexample_class
                upper = sum(1 for i in region.free if witness[i] != region.center[i])
    except TimeoutError as exc:
        res.status, res.reason = "unknown", str(exc) or f"timeout: {timeout:g} s exceeded"
    res.radius_lower, res.radius_upper = lower, upper
    if res.status == "ok":
        res.radius = lower
        res.max_reached = upper is None
    res.counterexample, res.counterexample_class = witness, wclass
    res.seconds = time.perf_counter() - t0
    res.engine_reason = f"balls verified in disjoint parts on {_workers(client)} Dask workers"
    return res
