"""The automatic engine choice (``--engine auto``), from measurements in benchmarks/RESULTS.md.

* **count**: enumeration when its estimated time (:func:`enumeration.estimate_seconds`, a cost
  model fitted on this machine) is at most :data:`ENUM_SECONDS`; else BDDs when input
  propagation leaves at most :data:`BDD_UNSTABLE` unstable neurons in all (then the
  composition is small: 784-input model, r = 2, 8 unstable: 0.5 s against 7 s enumerating);
  else enumeration when estimated at most :data:`ENUM_SECONDS_MAX`; else BDDs with a node
  ceiling of :data:`BDD_NODE_CEILING` (unless the user set one) and, past it, approximate
  counting (``exact: false``). In benchmarks/RESULTS.md, BDDs with 17–84 unstable neurons
  timed out where enumeration of 10⁶ inputs took 5–7 s.
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
from .enumeration import estimate_seconds
from .propagate import propagate

__all__ = ["choose_count", "choose_verify", "ENUM_SECONDS", "BDD_NODE_CEILING"]

ENUM_SECONDS = 2.0
ENUM_SECONDS_MAX = 120.0
BDD_UNSTABLE = 16
ENUM_SECONDS_VERIFY = 0.5
BDD_NODE_CEILING = 5_000_000

COUNT_ENGINES = ("auto", "bdd", "enum", "approx")
VERIFY_ENGINES = ("auto", "bdd", "sat", "enum")
RADIUS_ENGINES = ("auto", "bdd", "sat", "enum")  # auto runs "enum+sat" for epsilon = 0


def choose_count(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for an exact count."""
    est = estimate_seconds(model, region.size, region.radius)
    if est <= ENUM_SECONDS:
        return "enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS:g} s"
    unstable = sum(propagate(model, region).unstable)
    if unstable <= BDD_UNSTABLE:
        return "bdd", f"{unstable} unstable neurons <= {BDD_UNSTABLE}: small BDDs"
    if est <= ENUM_SECONDS_MAX:
        return "enum", (
            f"{unstable} unstable neurons; enumeration estimated at {est:.2g} s "
            f"<= {ENUM_SECONDS_MAX:g} s"
        )
    return "bdd", (
        f"{unstable} unstable neurons; enumeration estimated at {est:.2g} s: BDDs, "
        "approximate counting past the node ceiling"
    )


def choose_verify(model: BNN, region: Region) -> tuple[str, str]:
    """Return (engine, reason) for a yes/no question."""
    est = estimate_seconds(model, region.size, region.radius)
    if est <= ENUM_SECONDS_VERIFY:
        return "enum", f"enumeration estimated at {est:.2g} s <= {ENUM_SECONDS_VERIFY:g} s"
    return "sat", f"enumeration estimated at {est:.2g} s: SAT for a yes/no question"
