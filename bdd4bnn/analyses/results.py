"""Result records of the analyses (plain data, JSON-ready through ``to_json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Result", "CountResult", "VerifyResult", "RadiusResult"]


Status = Literal["ok", "unknown"]  # "unknown": a time or node limit stopped the analysis


@dataclass
class Result:
    """Base of every result record: ``to_json()`` gives plain JSON-ready data."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CountResult(Result):
    """Per-class counts over a region (``status`` is "ok" or "unknown").

    With the approximate engine, ``exact`` is False and counts are (ε, δ) estimates.
    """

    status: Status
    label: int
    total: int
    per_class: list[int] | None = None
    adversarial: int | None = None
    robust: bool | None = None
    targets: list[int] | None = None
    seconds: float = 0.0
    engine: str = "bdd"
    engine_reason: str | None = None
    exact: bool = True
    epsilon: float | None = None
    delta: float | None = None
    peak_nodes: int = 0
    reason: str | None = None
    region: dict[str, Any] = field(default_factory=dict)
    # unknown, from engines that settle inputs as they go: per class the inputs counted before
    # the limit (exact lower bounds), their sum, and the adversarial ones among them
    per_class_lower: list[int] | None = None
    settled: int | None = None
    adversarial_lower: int | None = None
    # L∞ balls: raw inputs per class, in all, adversarial, and the share ("p/q" and float)
    per_class_images: list[int] | None = None
    total_images: int | None = None
    adversarial_images: int | None = None
    adversarial_share: str | None = None
    adversarial_share_float: float | None = None


@dataclass
class VerifyResult(Result):
    """Robust, or one adversarial input re-checked by concrete inference."""

    status: Status
    label: int
    robust: bool | None = None
    counterexample: list[int] | None = None
    counterexample_class: int | None = None
    flipped: list[int] | None = None  # pixels where the counterexample differs from the centre
    raw_counterexample: list[int] | None = None  # L∞ balls: the raw image of a counterexample
    found_by: str | None = None  # "sampling", "bdd", "sat" or "enum"
    targets: list[int] | None = None
    seconds: float = 0.0
    engine: str = "bdd"
    engine_reason: str | None = None
    peak_nodes: int = 0
    reason: str | None = None
    region: dict[str, Any] = field(default_factory=dict)


@dataclass
class RadiusResult(Result):
    """The largest safe Hamming radius (``max_reached``: no failure up to ``--max``)."""

    status: Status
    label: int
    radius: int | None = None
    radius_lower: int | None = None  # every ball up to this radius is proven safe
    radius_upper: int | None = None  # a checked counterexample at this distance
    epsilon: float = 0.0
    max_radius: int = 0
    max_reached: bool = False
    counterexample: list[int] | None = None
    counterexample_class: int | None = None
    shares: list[float] | None = None  # share of the label per radius (counting engines)
    norm: str = "hamming"  # or "linf": radii in raw levels around a raw image
    counterexample_image: list[float] | None = None  # linf: a raw image at radius_upper
    seconds: float = 0.0
    engine: str = "sat"
    engine_reason: str | None = None
    reason: str | None = None
