"""The automatic engine choice (``--engine auto``), from measurements in benchmarks/RESULTS.md.

* **count**: enumeration when its estimated time (:func:`enumeration.estimate_seconds`, a cost
  model fitted on this machine) is at most :data:`ENUM_SECONDS`; otherwise BDDs, with a node
  ceiling of :data:`BDD_NODE_CEILING` (unless the user set one); if the BDDs hit it, approximate
  counting (when pyapproxmc is installed), reported with ``exact: false``.
* **verify**: concrete samples first (sound falsifier); then enumeration when it is estimated
  under :data:`ENUM_SECONDS_VERIFY`, else SAT (a region folded CNF is fast for yes/no; BDDs
  must build whole class functions).
* **radius**: SAT for ε = 0 (an incremental search over the radius), else a counting engine
  (enumeration ring by ring when the largest ball is cheap to enumerate, else BDDs).
"""

from __future__ import annotations

from ..model import BNN
from ..region import Region
from .enumeration import estimate_seconds

__all__ = ["choose_count", "choose_verify", "ENUM_SECONDS", "BDD_NODE_CEILING"]

ENUM_SECONDS = 2.0
ENUM_SECONDS_VERIFY = 0.5
BDD_NODE_CEILING = 5_000_000

COUNT_ENGINES = ("auto", "bdd", "enum", "approx")
VERIFY_ENGINES = ("auto", "bdd", "sat", "enum")
RADIUS_ENGINES = ("auto", "bdd", "sat", "enum")


def choose_count(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for an exact count."""
    est = estimate_seconds(model, region.size)
    if est <= ENUM_SECONDS:
        return "enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS:g} s"
    return "bdd", f"enumeration estimated at {est:.2g} s > {ENUM_SECONDS:g} s: BDDs"


def choose_verify(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for a yes/no question."""
    est = estimate_seconds(model, region.size)
    if est <= ENUM_SECONDS_VERIFY:
        return "enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS_VERIFY:g} s"
    return "sat", f"enumeration estimated at {est:.2g} s: SAT for a yes/no question"
