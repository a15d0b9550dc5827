"""What every analysis shares: argument checks, progress, and prepared engines kept per
envelope so that one analysis never prepares the same engine twice."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..engines import Capability, Options, Prepared, get
from ..engines.base import DEFAULT_OPTIONS
from ..errors import EngineError, RegionError
from ..limits import Budget
from ..model import BNN
from ..region import Region

__all__ = [
    "Progress",
    "as_progress",
    "check_targets",
    "adversarial_classes",
    "check_limits",
    "check_binary",
    "Engines",
]


@runtime_checkable
class Progress(Protocol):
    """Progress of long work: ``start(total, unit)`` once the work is known, then ``(n)`` for
    each ``n`` units done. A plain callable taking ``n`` also works (see :func:`as_progress`)."""

    def __call__(self, n: int) -> None: ...

    def start(self, total: int, unit: str) -> None: ...


class _Plain:
    def __init__(self, fn: Callable[[int], None] | None) -> None:
        self.fn = fn

    def __call__(self, n: int) -> None:
        if self.fn is not None:
            self.fn(n)

    def start(self, total: int, unit: str) -> None:
        pass


def as_progress(progress: Callable[[int], None] | Progress | None) -> Progress:
    """Return ``progress`` as a :class:`Progress` (a plain callable gets a no-op ``start``)."""
    if isinstance(progress, Progress):
        return progress
    return _Plain(progress)


def check_targets(model: BNN, targets: Sequence[int] | None) -> list[int] | None:
    """Validate target classes (None means every class)."""
    if targets is None:
        return None
    out = []
    for t in targets:
        if isinstance(t, bool) or not isinstance(t, int) and not hasattr(t, "__index__"):
            raise RegionError(f"target class {t!r}: expected an integer")
        out.append(int(t))
    out = sorted(set(out))
    bad = [t for t in out if not 0 <= t < model.num_classes]
    if bad:
        raise RegionError(f"target class {bad[0]} out of range 0..{model.num_classes - 1}")
    return out


def adversarial_classes(label: int, num_classes: int, targets: list[int] | None) -> list[int]:
    """Return the classes that count as adversarial."""
    classes = range(num_classes) if targets is None else targets
    return [c for c in classes if c != label]


def check_limits(timeout: Any, max_nodes: Any) -> None:
    """Validate a time limit (seconds > 0, finite) and a node limit (integer > 0)."""
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise RegionError(f"timeout: expected a number of seconds, got {timeout!r}")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise RegionError(f"timeout: must be a finite number > 0, got {timeout!r}")
    if max_nodes is not None:
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
            raise RegionError(f"max_nodes: expected an integer, got {max_nodes!r}")
        if max_nodes <= 0:
            raise RegionError(f"max_nodes: must be > 0, got {max_nodes}")


def check_binary(model: BNN) -> None:
    """Refuse a multi-level network: its regions are L∞ balls over its thermometer form
    (:func:`bdd4bnn.linf.linf_ball` gives the form and the region)."""
    if not model.is_binary:
        raise EngineError(
            f"model {model.name} is multi-level: analyse an L∞ ball (linf_ball(model, raw, "
            "eps)) over its thermometer form, ball.model"
        )


class Engines:
    """Prepared engines of one analysis, one per (engine, envelope); closed together."""

    def __init__(self, model: BNN, budget: Budget, options: Options = DEFAULT_OPTIONS) -> None:
        self.model, self.budget, self.options = model, budget, options
        self._prepared: dict[tuple[str, int], tuple[Region, Prepared]] = {}

    def prepare(
        self,
        name: str,
        envelope: Region,
        *capabilities: Capability,
        progress: Callable[[int], None] | None = None,
    ) -> Prepared:
        """Return ``name`` prepared over ``envelope`` (reused when already prepared)."""
        key = (name, id(envelope))
        hit = self._prepared.get(key)
        if hit is not None:
            return hit[1]
        engine = get(name, *capabilities)
        prepared = engine.prepare(self.model, envelope, self.budget, self.options, progress)
        self._prepared[key] = (envelope, prepared)  # keeps the envelope alive: ids stay unique
        return prepared

    def close(self) -> None:
        for _, prepared in self._prepared.values():
            prepared.close()
        self._prepared.clear()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
