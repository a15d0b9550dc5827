"""Whole-network exact prediction with the fastest available path."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

import numpy as np

from ..encoders.thresholds import block_thresholds
from ..model import BNN
from ..semantics import output_thresholds, predict_from_dots
from . import cpu

__all__ = ["predict", "PATHS", "default_path", "int8_net", "check_path"]

PATHS = ("auto", "triton", "int8", "float32", "packed")
_DOTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "float32": cpu.dots_float32,
    "packed": cpu.dots_packed,
}


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def default_path() -> str:
    """Return the path ``auto`` takes: Triton on CUDA, else int8 GEMM (measured fastest on CPU,
    benchmarks/RESULTS.md), else float32 BLAS when torch is missing."""
    from .triton_xnor import available

    if available() and _cuda():
        return "triton"
    return "int8" if cpu.have_int_mm() else "float32"


def check_path(path: str) -> str:
    """Return the concrete path ``path`` names ("auto" resolved); raise
    :class:`~bdd4bnn.errors.EngineError` when it cannot run here."""
    from ..errors import EngineError

    if path not in PATHS:
        raise EngineError(f"unknown inference path {path!r}; choose from {', '.join(PATHS)}")
    if path == "auto":
        return default_path()
    if path == "triton":
        from .triton_xnor import available

        if not available():
            raise EngineError("path triton needs the triton package: pip install triton")
        if os.environ.get("TRITON_INTERPRET") != "1" and not _cuda():
            raise EngineError(
                "path triton needs a CUDA GPU and none was found "
                "(TRITON_INTERPRET=1 runs the kernel on the CPU, slowly)"
            )
    if path == "int8" and not cpu.have_int_mm():
        raise EngineError("path int8 needs torch: pip install -c constraints.txt torch")
    return path


_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def int8_net(model: BNN):
    """Return the model prepared for the int8 path (cached while the model lives)."""
    from .int8_torch import Int8Net

    net = _PREPARED.get(model)
    if net is None:
        net = _PREPARED[model] = Int8Net(model)
    return net


def _levels(model: BNN, x: np.ndarray, path: str, chunk: int) -> np.ndarray:
    """Predict a multi-level network: int8 reads it as it is (:mod:`.int8_levels`), the
    other paths read its thermometer form on the inputs' thermometer bits."""
    hit = _PREPARED.get(model)
    if path == "int8":
        if hit is None:
            from .int8_levels import Int8LevelNet

            hit = _PREPARED[model] = Int8LevelNet(model)
        return np.concatenate(
            [hit.predict(x[s : s + chunk]) for s in range(0, len(x), chunk)]
            or [np.empty(0, dtype=np.int64)]
        )
    from ..thermometer import unfold

    form = unfold(model)
    return predict(form.model, form.to_bits(x), path, chunk)


def predict(model: BNN, x: np.ndarray, path: str = "auto", chunk: int = 65536) -> np.ndarray:
    """Return the predicted class of each row of inputs ``x`` (±1; levels for a multi-level
    network), equal to the reference."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; choose from {PATHS}")
    if path == "auto":
        path = default_path()
    x = np.atleast_2d(np.asarray(x, dtype=np.int8))
    if not model.is_binary:
        return _levels(model, x, path, chunk)
    if path == "int8":
        net = int8_net(model)
        return np.concatenate(
            [net.predict(x[s : s + chunk]) for s in range(0, len(x), chunk)]
            or [np.empty(0, dtype=np.int64)]
        )
    thresholds = [block_thresholds(b) for b in model.blocks]
    k = output_thresholds(model.output)
    out = np.empty(x.shape[0], dtype=np.int64)
    for start in range(0, x.shape[0], chunk):
        h = x[start : start + chunk]
        for block, th in zip(model.blocks, thresholds, strict=True):
            if path == "triton":
                from .triton_xnor import block_forward_triton

                device = "cpu" if os.environ.get("TRITON_INTERPRET") == "1" else "cuda"
                h = block_forward_triton(h, block.weight, th.sign, th.bound, device)
            else:
                h = th.apply(_DOTS[path](h, block.weight))
        dots_fn = _DOTS["float32" if path == "triton" else path]
        out[start : start + chunk] = predict_from_dots(dots_fn(h, model.output.weight), k)
    return out
