"""Analyses: questions asked of a model over a region, as short loops over prepared engines
(:mod:`bdd4bnn.engines`): count, verify, radius, explain, crosscheck."""

from .count import count
from .crosscheck import CrossCheckResult, crosscheck
from .explain import ExplainResult, explain
from .radius import radius
from .results import CountResult, RadiusResult, VerifyResult
from .verify import verify

__all__ = [
    "CountResult",
    "VerifyResult",
    "RadiusResult",
    "ExplainResult",
    "CrossCheckResult",
    "count",
    "verify",
    "radius",
    "explain",
    "crosscheck",
]
