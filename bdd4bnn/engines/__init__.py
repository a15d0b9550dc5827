"""Engines: the ways bdd4bnn answers questions, behind one interface (:mod:`.base`).

``REGISTRY`` maps each engine's name to the engine; every list of valid engine names (CLI
choices, job files, error messages) comes from it through :func:`names`. Every automatic
choice and fallback rule lives in :mod:`.choose`. A new engine is one module (or sub-package)
with an :class:`~.base.Engine` subclass plus one line below.
"""

from __future__ import annotations

from ..errors import EngineError
from .approx import ApproxEngine
from .base import Capability, Engine, Options, Prepared
from .bdd import BddEngine
from .enum import EnumEngine
from .sat import SatEngine

__all__ = ["REGISTRY", "Capability", "Engine", "Options", "Prepared", "names", "get"]

REGISTRY: dict[str, Engine] = {
    e.name: e for e in (BddEngine(), SatEngine(), EnumEngine(), ApproxEngine())
}


def names(*capabilities: Capability, auto: bool = True) -> tuple[str, ...]:
    """Return the names of the engines with every capability given ("auto" first)."""
    found = tuple(n for n, e in REGISTRY.items() if e.can(*capabilities))
    return ("auto", *found) if auto else found


def get(name: str, *capabilities: Capability) -> Engine:
    """Return the engine ``name``; raise :class:`EngineError` when it is unknown or lacks a
    capability."""
    engine = REGISTRY.get(name)
    if engine is None or not engine.can(*capabilities):
        valid = ", ".join(names(*capabilities, auto=False))
        what = " ".join(c.value for c in capabilities) or "anything"
        raise EngineError(f"engine {name!r} cannot answer this ({what}); choose from {valid}")
    return engine
