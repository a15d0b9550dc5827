"""Time and BDD-node limits shared by every engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import LimitReached

__all__ = ["Budget"]


@dataclass
class Budget:
    """A deadline and a node ceiling; :meth:`check` raises :class:`LimitReached` past either.

    ``nodes`` is a callable returning the current number of live BDD nodes (set by the engine).
    """

    timeout: float | None = None
    max_nodes: int | None = None
    nodes: Callable[[], int] | None = None
    started: float = field(default_factory=time.perf_counter)
    peak_nodes: int = 0
    node_check_every: float = 0.05  # seconds between node counts (counting may collect garbage)
    _last_node_check: float = -1.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def check(self) -> None:
        """Raise :class:`LimitReached` if the time or node limit is exceeded."""
        if self.timeout is not None and time.perf_counter() - self.started > self.timeout:
            raise LimitReached(f"timeout: {self.timeout:g} s exceeded")
        now = time.perf_counter()
        if self.nodes is not None and now - self._last_node_check >= self.node_check_every:
            self._last_node_check = now
            n = self.nodes()
            if n > self.peak_nodes:
                self.peak_nodes = n
            if self.max_nodes is not None and n > self.max_nodes:
                raise LimitReached(f"node limit: {n} live BDD nodes > {self.max_nodes}")
