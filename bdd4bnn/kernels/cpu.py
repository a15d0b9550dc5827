"""Exact integer dot products W·x on CPU: float32 BLAS, bit-packed numpy (the int8 path is
the whole-network :mod:`bdd4bnn.kernels.int8_torch`)."""

from __future__ import annotations

import numpy as np

from .bitpack import pack_bits

__all__ = ["dots_float32", "dots_packed", "have_int_mm"]


def have_int_mm() -> bool:
    """Return whether torch._int_mm is available (torch installed)."""
    try:
        import torch

        return hasattr(torch, "_int_mm")
    except ImportError:
        return False


def dots_float32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return x @ w.T (int32) through float32 BLAS (exact: |dot| <= 2^24)."""
    return (np.asarray(x, np.float32) @ np.asarray(w, np.float32).T).astype(np.int32)


def dots_packed(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return x @ w.T (int32) by XNOR-popcount on 64-bit words (np.bitwise_count).

    Zero weights (ternary) are masked out: dot = nnz − 2·popcount((x ⊕ w) ∧ mask).
    """
    xp = pack_bits(x)
    wp = pack_bits(w)
    mask = pack_bits(np.where(np.asarray(w) != 0, 1, -1))
    nnz = (np.asarray(w) != 0).sum(axis=1).astype(np.int32)
    out = np.empty((xp.shape[0], wp.shape[0]), dtype=np.int32)
    for j in range(wp.shape[0]):
        diff = np.bitwise_count((xp ^ wp[j]) & mask[j]).sum(axis=1, dtype=np.int32)
        out[:, j] = nnz[j] - 2 * diff
    return out
