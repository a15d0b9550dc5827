"""Exact integer dot products W·x on CPU: int8 GEMM, float32 BLAS, bit-packed numpy."""

from __future__ import annotations

import numpy as np

from .bitpack import pack_bits

__all__ = ["dots_int8", "dots_float32", "dots_packed", "have_int_mm"]


def have_int_mm() -> bool:
    """Return whether torch._int_mm is available (torch installed)."""
    try:
        import torch

        return hasattr(torch, "_int_mm")
    except ImportError:
        return False


def dots_int8(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return x @ w.T (int32) with torch._int_mm (int8 × int8 → int32), padding as it needs.

    _int_mm wants more than 16 rows and inner / output sizes that are multiples of 8; zero
    padding leaves the dot products unchanged.
    """
    import torch

    n, k = x.shape
    m = w.shape[0]
    rows = max(n, 17)
    kp, mp = -(-k // 8) * 8, -(-m // 8) * 8
    xa = torch.zeros((rows, kp), dtype=torch.int8)
    xa[:n, :k] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int8))
    wa = torch.zeros((kp, mp), dtype=torch.int8)
    wa[:k, :m] = torch.from_numpy(np.ascontiguousarray(w.T, dtype=np.int8))
    return torch._int_mm(xa, wa)[:n, :m].numpy()


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
