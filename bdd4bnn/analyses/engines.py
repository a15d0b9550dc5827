"""The automatic engine choice (``--engine auto``), from measurements in benchmarks/RESULTS.md.

* **count**: enumeration when its estimated time (:func:`enumeration.count_seconds`, a cost
  model calibrated on this machine; an upper bound for the subtree walk, which may prune far
  below it) is at most :data:`ENUM_SECONDS_MAX`; else BDDs with a node
  ceiling of :data:`BDD_NODE_CEILING` (unless the user set one) and, past it, approximate
  counting (``exact: false``). Enumeration wins every measured query it can finish in that
  time (benchmarks/RESULTS.md: A1–A4 are 3–12× faster enumerated than with the top-down BDDs);
  beyond it, the BDDs' bounds often settle the class near the root (784-pixel balls of radius
  4 and 5 and a 400-pixel ball of radius 5: 10¹⁰–10¹² inputs in under 0.2 s).
* **verify**: concrete samples first (sound falsifier); then enumeration when it is estimated
  under :data:`ENUM_SECONDS_VERIFY`, else SAT (a region folded CNF is fast for yes/no; BDDs
  must build whole class functions).
* **radius**: for ε = 0, "enum+sat": concrete samples bound the radius from above, rings are
  enumerated while each is estimated under 0.02 s, and an incremental SAT session decides the
  remaining rings; for ε > 0 a counting engine (enumeration ring by ring when the largest ball
  is cheap to enumerate, else BDDs).
"""

from __future__ import annotations

from ..model import BNN
from ..region import Region
from .enumeration import count_seconds, estimate_seconds, uses_subtree

__all__ = ["choose_count", "choose_verify", "ENUM_SECONDS_MAX", "BDD_NODE_CEILING"]

ENUM_SECONDS_MAX = 120.0
ENUM_SECONDS_VERIFY = 0.5
BDD_NODE_CEILING = 5_000_000

COUNT_ENGINES = ("auto", "bdd", "enum", "approx")
VERIFY_ENGINES = ("auto", "bdd", "sat", "enum")
RADIUS_ENGINES = ("auto", "bdd", "sat", "enum")  # auto runs "enum+sat" for epsilon = 0


def choose_count(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for an exact count."""
    est = count_seconds(model, region)
    if est <= ENUM_SECONDS_MAX:
        how = "enumeration (subtree walk)" if uses_subtree(model, region) else "enumeration"
        return "enum", f"{how} estimated at {est:.2g} s <= {ENUM_SECONDS_MAX:g} s"
    return "bdd", (
        f"enumeration estimated at {est:.2g} s: BDDs, approximate counting past "
        f"{BDD_NODE_CEILING} nodes"
    )


def choose_verify(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for a yes/no question."""
    est = estimate_seconds(model, region.size, region.radius)
    if est <= ENUM_SECONDS_VERIFY:
        return "enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS_VERIFY:g} s"
    return "sat", f"enumeration estimated at {est:.2g} s: SAT for a yes/no question"
