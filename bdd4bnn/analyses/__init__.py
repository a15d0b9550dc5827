"""Analyses: questions asked of a model over a region, as short loops over prepared engines
(:mod:`bdd4bnn.engines`): count, verify, radius, explain, crosscheck."""

from .count import count, count_linf
from .crosscheck import CrossCheckResult, crosscheck
from .explain import ExplainResult, explain
from .radius import radius, radius_linf
from .results import CountResult, RadiusResult, VerifyResult
from .verify import verify, verify_linf

__all__ = [
    "CountResult",
    "VerifyResult",
    "RadiusResult",
    "ExplainResult",
    "CrossCheckResult",
    "count",
    "count_linf",
    "verify",
    "verify_linf",
    "radius",
    "radius_linf",
    "explain",
    "crosscheck",
]
