"""Time and BDD-node limits shared by every engine."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import LimitReached

__all__ = ["Budget", "call_within", "die_with_parent", "next_slice", "recursion_limit"]


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

    def remaining(self) -> float | None:
        """Return the seconds left (None without a timeout); raise :class:`LimitReached` when
        none are."""
        if self.timeout is None:
            return None
        left = self.timeout - self.elapsed()
        if left <= 0:
            raise LimitReached(f"timeout: {self.timeout:g} s exceeded")
        return left

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
                raise LimitReached(
                    f"node limit: {n} live BDD nodes > {self.max_nodes}", kind="nodes"
                )


def next_slice(size: int, took: float, seconds: float, most: int) -> int:
    """Return the work for a compiled loop's next call, which took ``took`` seconds for
    ``size`` units: scaled towards ``seconds`` a call, at most 4× more than the last (unit
    costs vary along a walk), between 1 and ``most``."""
    grow = min(4 * size, size * seconds / max(took, 1e-6))
    return int(min(most, max(1, grow)))


@contextmanager
def recursion_limit(depth: int) -> Iterator[None]:
    """Raise Python's recursion limit to at least ``depth`` inside the block (for memoised
    recursions over BDDs, whose depth is the number of variables)."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(max(saved, depth))
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


def call_within(budget: Budget, fn: Callable[[], Any]) -> Any:
    """Return ``fn()``, run in a forked child killed at the budget's deadline.

    For native work that checks no budget (ApproxMC): past the deadline the child is killed
    and :class:`LimitReached` raised. Without a timeout, ``fn`` runs in this process.
    """
    if budget.timeout is None:
        return fn()
    import multiprocessing as mp

    left = budget.remaining()
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    parent = os.getpid()

    def child() -> None:  # pragma: no cover - a forked process
        die_with_parent(parent)
        try:
            send.send((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            send.send((False, exc))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(left):
            raise LimitReached(f"timeout: {budget.timeout:g} s exceeded")
        ok, value = recv.recv()
    except EOFError:
        raise RuntimeError(f"worker process died (exit code {proc.exitcode})") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
    if not ok:
        raise value
    return value


def die_with_parent(parent: int) -> None:
    """Make this process exit when ``parent`` dies: the kernel's parent-death signal where
    there is one (Linux), and a watchdog thread polling for re-parenting everywhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:  # pragma: no cover - the signal comes first on Linux
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
