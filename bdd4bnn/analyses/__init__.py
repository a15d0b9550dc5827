"""Analyses: questions asked of a model over a region (count, verify, radius)."""

from .compile import CompiledRegion, compile_region
from .count import count
from .radius import radius
from .results import CountResult, RadiusResult, VerifyResult
from .verify import verify

__all__ = [
    "CompiledRegion",
    "compile_region",
    "CountResult",
    "VerifyResult",
    "RadiusResult",
    "count",
    "verify",
    "radius",
]
