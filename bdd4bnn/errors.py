"""The exception hierarchy of bdd4bnn: one base class, one subclass per kind of bad input.

Verdicts (robust / not robust / unknown) are return values, never exceptions.
"""

from __future__ import annotations

__all__ = [
    "Bdd4bnnError",
    "ModelError",
    "InputError",
    "RegionError",
    "LimitReached",
    "EngineError",
]


class Bdd4bnnError(Exception):
    """Base class of every error bdd4bnn raises on purpose (bad input, bad files)."""

    exit_code = 2


class ModelError(Bdd4bnnError):
    """A model file or model object is malformed (unknown format, wrong shape, bad value)."""


class InputError(Bdd4bnnError):
    """An input vector or input file is malformed."""


class RegionError(Bdd4bnnError):
    """A region (radius, free set) does not fit the model or the input."""


class EngineError(Bdd4bnnError):
    """An unknown engine, or an engine asked a question it cannot answer (its capabilities)."""


class LimitReached(Exception):
    """Internal signal: a time or BDD-node limit was hit. Analyses turn it into 'unknown'.

    ``kind`` is "time", "nodes" or "size" (a formula too large to build; automatic fallbacks
    depend on it, never on the wording).
    ``partial``: set by counting engines that settle inputs as they go, per class the inputs
    counted before the limit (lower bounds of the exact counts), else None.
    """

    def __init__(self, reason: str, kind: str = "time") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.partial: list[int] | None = None


def one_line(text: object, limit: int = 500) -> str:
    """Return ``text`` as one printable line (control characters, newlines and terminal
    escapes written as Python escapes; cut at ``limit`` characters): text from files and
    exceptions reaches the terminal only this way."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[: limit - 1] + "…"
