"""Every automatic engine choice and fallback rule, each with the reason it reports.

Measurements behind the constants are in benchmarks/RESULTS.md.

* **count** (:func:`for_count`): enumeration when its estimated time (:func:`count_seconds`,
  a cost model calibrated on the project machine; an upper bound for the subtree walk, which
  may prune far below it) is at most :data:`ENUM_SECONDS_MAX`; else BDDs with a node ceiling
  of :data:`BDD_NODE_CEILING` (unless the user set one) and, past it, the subtree walk, or
  approximate counting (``exact: false``) where the walk cannot run (:func:`count_fallback`).
* **verify** (:func:`for_find`): concrete samples first (sound falsifier, in the analysis);
  then enumeration when it is estimated under :data:`ENUM_SECONDS_VERIFY`, else SAT — unless
  its CNF would pass the clause ceiling (:func:`sat_hopeless`: dense 2048-wide blocks), then
  enumeration (the subtree walk where it is the faster, its estimate an upper bound).
* **radius**, ε = 0 (:func:`for_ring`): a beam-search attack and samples bound the radius
  from above (in the analysis); below it, each ring is enumerated while it is estimated under
  :data:`RING_ENUM_SECONDS`, then whole balls are proven by top-down BDD bounds within
  :data:`RADIUS_BDD_SLICE` s each (plus the compiled loop's first use in the process), and
  once that gives up SAT decides the remaining rings: a session per ball, encoded relative
  to the centre and cut at the ball's radius, up to :data:`SAT_RELATIVE_RADIUS_MAX`
  (:func:`sat_relative`), else one incremental session for every ring; where the subtree walk
  would prove a ball within :data:`RING_WALK_SECONDS`, SAT has :data:`SAT_RING_SLICE` s per
  ball, and past it the walk proves the rings (wide models, where SAT proves nothing).
  ε > 0 (:func:`for_ring_count`): rings enumerated while estimated under
  :data:`ENUM_SECONDS_MAX`, then walked by the subtree walk (its estimate is an upper bound),
  or, without numba, BDDs ball by ball.
* **raw images of an L∞ ball** (:func:`for_images`): a weighted model count of the class
  BDDs.
* **one query on a cluster** (:func:`parts_for`): :data:`PARTS_PER_WORKER` parts per worker
  (Dask balances unequal parts as they finish), :data:`STORE_PARTS` when they are stored.
* **explain** (:func:`for_explain`): BDDs (every kind of explanation needs the class function
  except one PI explanation, which any engine that finds inputs gives).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import BNN
from ..region import Region
from .base import Capability

__all__ = [
    "Choice",
    "for_count",
    "for_find",
    "for_ring",
    "for_ring_count",
    "for_explain",
    "for_images",
    "count_fallback",
    "ENUM_SECONDS_MAX",
    "ENUM_SECONDS_VERIFY",
    "RING_ENUM_SECONDS",
    "BDD_NODE_CEILING",
    "SAT_RELATIVE_RADIUS_MAX",
    "sat_relative",
    "parts_for",
    "sat_hopeless",
    "PARTS_PER_WORKER",
    "STORE_PARTS",
]

ENUM_SECONDS_MAX = 120.0
ENUM_SECONDS_VERIFY = 0.5
RING_ENUM_SECONDS = 0.02
RADIUS_BDD_SLICE = 1.0
# radius: SAT gets this slice per ball while the subtree walk could prove the ball within
# RING_WALK_SECONDS (on 2048-wide blocks SAT proved no ball of radius 1 in 60 s, where the
# walk proves radius 2 in 9 s: benchmarks/RESULTS.md)
SAT_RING_SLICE = 3.0
RING_WALK_SECONDS = 60.0
BDD_NODE_CEILING = 5_000_000
# the relative encoding's counters grow with the radius: on the 784-100-10 model it has fewer
# clauses than the plain one up to r ≈ 32 (0.23 against 1.0 million at r = 4, 6.0 against 4.8
# million at r = 32), and its unsatisfiable rings are decided at once
SAT_RELATIVE_RADIUS_MAX = 32
EXPLAIN_NODE_CEILING = 5_000_000  # about 1-2 GB of CUDD nodes with the selector variables


@dataclass(frozen=True)
class Choice:
    """An engine name, why it was chosen (None when the user named it), and, for automatic
    BDD counts, the node ceiling past which :func:`count_fallback` applies."""

    engine: str
    reason: str | None = None
    node_ceiling: int | None = None
    # radius: prove the whole ball of this radius (not one ring) with the engine, within
    # ``slice_seconds``, and fall back to the next choice past it
    whole_ball: bool = False
    slice_seconds: float | None = None
    # radius: prepare the engine on the ball of radius k (and ask for ring k) rather than on
    # the envelope shared by every ring
    per_ball: bool = False
    method: str = "auto"  # BDD construction


def _estimates():
    from .enum import stream

    return stream


def for_count(model: BNN, region: Region, engine: str = "auto") -> Choice:
    """Return the engine for per-class counts of ``region``."""
    if engine != "auto":
        return Choice(engine)
    stream = _estimates()
    est = stream.count_seconds(model, region)
    if est <= ENUM_SECONDS_MAX:
        how = "enumeration (subtree walk)" if stream.uses_subtree(model, region) else "enumeration"
        return Choice("enum", f"{how} estimated at {est:.2g} s <= {ENUM_SECONDS_MAX:g} s")
    from .approx import available

    walk = stream.subtree_seconds(model, region) is not None
    then = "the subtree walk" if walk else "approximate counting"
    return Choice(
        "bdd",
        f"enumeration estimated at {est:.2g} s: BDDs, {then} past {BDD_NODE_CEILING} nodes",
        BDD_NODE_CEILING if walk or available() else None,
    )


def count_fallback(
    choice: Choice, limit_kind: str, user_max_nodes: int | None, model: BNN, region: Region
) -> Choice | None:
    """Return the engine to fall back to when ``choice`` hit a limit of ``limit_kind``, or
    None. An automatic BDD count past its node ceiling (not a user's limit) goes on with the
    subtree walk where it can run: exact, its estimate only an upper bound (784-pixel balls
    of radius 6, 3·10¹⁴ inputs, are walked in minutes: benchmarks/RESULTS.md), with progress
    in inputs settled and, when stopped, per-class lower bounds; else ApproxMC estimates."""
    if choice.node_ceiling is None or limit_kind != "nodes" or user_max_nodes is not None:
        return None
    passed = f"{choice.reason}; BDDs passed {choice.node_ceiling} nodes"
    if _estimates().subtree_seconds(model, region) is not None:
        return Choice("enum", f"{passed}: the subtree walk (exact, pruning beyond its estimate)")
    return Choice("approx", f"{passed}: approximate counting")


def sat_hopeless(model: BNN) -> str | None:
    """Return why SAT cannot take ``model`` (its CNF would pass
    :data:`bdd4bnn.encoders.cnf.MAX_CLAUSES`: dense blocks thousands wide), or None."""
    from ..encoders import cnf

    est = cnf.later_blocks_clauses(model)
    if est <= cnf.MAX_CLAUSES:
        return None
    return f"SAT's CNF would hold about {est:.1e} clauses (more than {cnf.MAX_CLAUSES:.0e})"


def for_find(model: BNN, region: Region, engine: str = "auto") -> Choice:
    """Return the engine for "is there an input of these classes in ``region``": enumeration
    when it is estimated under :data:`ENUM_SECONDS_VERIFY` or SAT cannot take the model
    (:func:`sat_hopeless`), else SAT."""
    if engine != "auto":
        return Choice(engine)
    stream = _estimates()
    est = stream.estimate_seconds(model, region.size, region.radius)
    if est <= ENUM_SECONDS_VERIFY:
        return Choice("enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS_VERIFY:g} s")
    hopeless = sat_hopeless(model)
    if hopeless is not None:
        est = stream.count_seconds(model, region)
        return Choice("enum", f"{hopeless}: enumeration, estimated at {est:.2g} s")
    return Choice("sat", f"enumeration estimated at {est:.2g} s: SAT for a yes/no question")


def for_ring(
    model: BNN, ball: Region, k: int, engine: str = "auto", gave_up: frozenset[str] = frozenset()
) -> Choice:
    """Return how to look for an adversarial input at distance ``k`` in ``ball`` (radius, ε =
    0), every smaller distance being proven safe: ring ``k`` enumerated while it is estimated
    under :data:`RING_ENUM_SECONDS`; else the whole ball of radius ``k`` by top-down BDDs,
    whose bounds often settle a ball at its root, within :data:`RADIUS_BDD_SLICE` seconds;
    once that gave up (``gave_up``), ring ``k`` by SAT: a session per ball while the relative
    encoding applies (:func:`sat_relative`; cut at radius k it finds inputs at distance k up to
    100× faster than one cut at a wider envelope's radius: benchmarks/RESULTS.md), else one
    incremental session for every ring. Where the subtree walk would prove the ball within
    :data:`RING_WALK_SECONDS`, SAT gets :data:`SAT_RING_SLICE` seconds per ball, and once it
    gave up the rings are walked."""
    if engine != "auto":
        return Choice(engine)
    est = _estimates().estimate_seconds(model, ball.sphere_size(k), k)
    if est <= RING_ENUM_SECONDS:
        return Choice(
            "enum", f"rings enumerated while each is estimated under {RING_ENUM_SECONDS:g} s"
        )
    if "bdd" not in gave_up:
        return Choice(
            "bdd",
            f"balls proven by top-down BDD bounds within {RADIUS_BDD_SLICE:g} s each",
            whole_ball=True,
            slice_seconds=RADIUS_BDD_SLICE + _topdown_first_use(),
            method="topdown",
        )
    hopeless = sat_hopeless(model)
    if hopeless is not None:
        return Choice("enum", f"{hopeless}: rings enumerated", per_ball=True)
    walk = _estimates().subtree_seconds(model, ball.with_radius(k))
    walkable = walk is not None and walk <= RING_WALK_SECONDS
    if walkable and "sat" not in gave_up:
        return Choice(
            "sat",
            f"then SAT ball by ball within {SAT_RING_SLICE:g} s each (relative to the centre)",
            whole_ball=True,
            slice_seconds=SAT_RING_SLICE,
        )
    if walkable:
        return Choice(
            "enum",
            f"then rings walked by the subtree walk (estimated under {RING_WALK_SECONDS:g} s)",
            per_ball=True,
        )
    if k <= SAT_RELATIVE_RADIUS_MAX:
        return Choice(
            "sat",
            "then SAT ball by ball, relative to the centre and cut at the ball's radius",
            per_ball=True,
        )
    return Choice("sat", "then an incremental SAT session ring by ring")


def _topdown_first_use() -> float:
    """Seconds before the top-down loop can run in this process (numba import and cache load,
    or its compilation): a slice measures the bounds' work, not that."""
    from .. import jit
    from .bdd import topdown

    return jit.first_use_seconds(topdown.LOOP_MODULE, ("expand",)) if jit.available() else 0.0


def sat_relative(envelope: Region) -> bool:
    """Return whether a SAT session over ``envelope`` encodes the first block relative to the
    centre (:class:`bdd4bnn.encoders.cnf.CnfEncoder`)."""
    return envelope.radius <= SAT_RELATIVE_RADIUS_MAX


def for_ring_count(model: BNN, ball: Region, k: int, engine: str = "auto") -> Choice:
    """Return the engine that counts ring ``k`` of ``ball`` (radius with ε > 0)."""
    if engine != "auto":
        return Choice(engine)
    # a ring is walked as its ball (the subtree walk prunes whole subtrees), or streamed
    stream = _estimates()
    est = min(
        stream.estimate_seconds(model, ball.sphere_size(k), k),
        stream.count_seconds(model, ball.with_radius(k)),
    )
    if est <= ENUM_SECONDS_MAX:
        return Choice(
            "enum", f"rings enumerated while each is estimated under {ENUM_SECONDS_MAX:g} s"
        )
    if stream.subtree.available():  # its estimate is an upper bound; it prunes like the BDDs
        return Choice("enum", "rings walked by the subtree walk (pruning beyond its estimate)")
    return Choice("bdd", "then BDDs ball by ball")


# one query on a cluster: parts per worker (more parts than workers, so that Dask balances
# the parts' unequal work as they finish: with 8 parts on each of 2 workers the longest part
# held 40 % of a radius-6 count, benchmarks/RESULTS.md), and the parts of a stored query (a
# rerun on another cluster must find the same parts)
PARTS_PER_WORKER = 16
STORE_PARTS = 64


def parts_for(workers: int, stored: bool) -> int:
    """Return how many disjoint parts a query on ``workers`` workers is split into."""
    return STORE_PARTS if stored else PARTS_PER_WORKER * max(1, workers)


def for_explain(kind: str, count: int, engine: str = "auto") -> Choice:
    """Return the engine for explanations of ``kind`` (``count`` PI explanations). BDDs get a
    node ceiling of :data:`EXPLAIN_NODE_CEILING` unless the user set one (explanations over
    all inputs can need more memory than a machine has: unknown, with the reason, instead)."""
    ceiling = EXPLAIN_NODE_CEILING
    if engine != "auto":
        return Choice(engine, node_ceiling=ceiling if engine == "bdd" else None)
    del kind, count  # every kind is fastest from the class BDD where it can be built
    return Choice("bdd", "explanations from the class BDD", node_ceiling=ceiling)


def for_images(region: Region) -> Choice:
    """Return how to weigh an L∞ ball's patterns by the raw inputs they stand for: by
    enumeration up to :data:`bdd4bnn.engines.enum.weighted.FREE_MAX` free pixels (every
    pattern classified; on TFC the BDDs of 20+ free pixels take minutes), else a weighted
    model count of the class BDDs."""
    from .enum import weighted

    if len(region.free) <= weighted.FREE_MAX:
        return Choice("enum", "raw images weighted over every pattern (enumeration)")
    return Choice("bdd", "raw images by a weighted model count of the class BDDs")


def needs_class_function(kind: str, count: int) -> bool:
    """Return whether an explanation of ``kind`` needs the class function (BDDs)."""
    return kind == "shortest" or count > 1


def capability_for_explain(kind: str, count: int) -> tuple[Capability, ...]:
    """Return the capabilities an engine needs for explanations of ``kind``."""
    if needs_class_function(kind, count):
        return (Capability.CLASS_FUNCTION,)
    return (Capability.FIND,)
