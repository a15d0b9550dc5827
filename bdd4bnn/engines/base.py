"""The engine interface: an engine is prepared once for a model and an envelope region, and
the prepared engine answers the questions analyses ask about regions inside that envelope.

* :class:`Engine` — stateless; declares its :class:`Capability` set and builds a
  :class:`Prepared` for (model, envelope, budget).
* :class:`Prepared` — per-class counts of a region or of its rings (``counts``), an input of
  given classes in a region or ring (``find``), the class function as a BDD
  (``class_function``) where the engine has one. A question outside the capabilities raises
  :class:`~bdd4bnn.errors.EngineError`; limits raise
  :class:`~bdd4bnn.errors.LimitReached`.

A query region must lie inside the envelope (:meth:`Region.within`): same centre, free pixels
a subset, radius at most the envelope's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from ..errors import EngineError
from ..limits import Budget
from ..model import BNN
from ..region import Region

__all__ = ["Capability", "Engine", "Prepared", "Options", "Progress"]

Progress = Callable[[int], None]


class Capability(StrEnum):
    """What a prepared engine can answer."""

    COUNT = "count"  # per-class counts of a region or of its rings
    FIND = "find"  # an input of given classes in a region or ring (with forced flips)
    CLASS_FUNCTION = "class_function"  # the class function as a BDD (explanations)
    EXACT = "exact"  # counts are exact (not (ε, δ) estimates)


@dataclass(frozen=True)
class Options:
    """Engine-specific settings, one record for every engine (each reads what it needs)."""

    backend: str = "auto"  # BDD backend: auto, cudd, autoref
    solver: str = "glucose4"  # SAT solver (PySAT name); interruptible for timeouts
    method: str = "auto"  # BDD construction: auto, topdown, compose
    epsilon: float = 0.8  # ApproxMC tolerance
    delta: float = 0.2  # ApproxMC confidence
    seed: int = 1  # ApproxMC seed


DEFAULT_OPTIONS = Options()


class Prepared(ABC):
    """An engine prepared for one model and one envelope region (see the module docstring)."""

    name: ClassVar[str]

    def __init__(self, model: BNN, envelope: Region, budget: Budget) -> None:
        if not model.is_binary:
            raise EngineError(
                f"model {model.name} is multi-level: engines read its thermometer form "
                "(bdd4bnn.thermometer.unfold), which L∞ regions (--linf) use"
            )
        self.model, self.envelope, self.budget = model, envelope, budget
        self.construction: str | None = None  # how it was prepared, for ``engine_reason``

    def counts(
        self,
        region: Region | None = None,
        *,
        distances: Sequence[int] | None = None,
        progress: Progress | None = None,
    ) -> list[int]:
        """Return per-class counts of ``region`` (default: the envelope), or of its rings
        ``distances`` (inputs at exactly those Hamming distances from the centre)."""
        raise EngineError(f"engine {self.name} cannot count")

    def find(
        self,
        region: Region | None,
        classes: Sequence[int],
        *,
        distances: Sequence[int] | None = None,
        flip: Sequence[int] = (),
    ) -> np.ndarray | None:
        """Return an input of ``region`` (default: the envelope; rings ``distances`` only)
        classified in ``classes`` whose pixels ``flip`` differ from the centre, or None."""
        raise EngineError(f"engine {self.name} cannot find inputs")

    def class_function(self, cls: int) -> Any:
        """Return the BDD of the envelope's inputs classified ``cls``."""
        raise EngineError(f"engine {self.name} has no class function")

    def weighted_counts(self, low: Sequence[int], high: Sequence[int]) -> list[int]:
        """Return, per class, Σ over the envelope's inputs of Π over every pixel i of
        ``high[i]`` (x_i = +1) or ``low[i]`` (x_i = −1): an L∞ ball's raw inputs."""
        raise EngineError(f"engine {self.name} has no weighted counts")

    def close(self) -> None:  # noqa: B027 - most engines hold nothing native
        """Free native resources (solvers); the object is unusable afterwards."""

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _inside(self, region: Region | None) -> Region:
        region = self.envelope if region is None else region
        if not region.within(self.envelope):
            raise ValueError("query region is not inside the prepared envelope")
        return region


class Engine(ABC):
    """An engine: a name, its capabilities, and :meth:`prepare`."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    summary: ClassVar[str]  # one line for --help and the README
    # whether preparing over a large envelope costs little more than over a small one (False
    # for BDDs, whose construction grows with the envelope: radius then prepares ball by ball)
    cheap_envelope: ClassVar[bool] = True

    @abstractmethod
    def prepare(
        self,
        model: BNN,
        envelope: Region,
        budget: Budget,
        options: Options = DEFAULT_OPTIONS,
        progress: Progress | None = None,
    ) -> Prepared:
        """Return the engine prepared for ``model`` over ``envelope`` (may raise LimitReached)."""

    def can(self, *caps: Capability) -> bool:
        return all(c in self.capabilities for c in caps)
