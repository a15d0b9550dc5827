"""Analyses: questions asked of a model over a region (count, verify, ...)."""

from .compile import CompiledRegion, compile_region
from .count import CountResult, VerifyResult, count, verify

__all__ = [
    "CompiledRegion",
    "compile_region",
    "CountResult",
    "VerifyResult",
    "count",
    "verify",
]
