"""Bit-packing of ±1 tensors into 64-bit words (bit i of word w is element 64·w + i)."""

from __future__ import annotations

import numpy as np

__all__ = ["pack_bits", "unpack_bits", "words"]


def words(n: int) -> int:
    """Return the number of 64-bit words holding ``n`` bits."""
    return (n + 63) // 64


def pack_bits(x: np.ndarray) -> np.ndarray:
    """Return uint64 words (..., ceil(n/64)): bit set iff the element is +1 (> 0).

    Padding bits are 0.
    """
    x = np.asarray(x)
    n = x.shape[-1]
    b = np.packbits(x > 0, axis=-1, bitorder="little")
    pad = words(n) * 8 - b.shape[-1]
    if pad:
        b = np.concatenate([b, np.zeros((*b.shape[:-1], pad), dtype=np.uint8)], axis=-1)
    return np.ascontiguousarray(b).view(np.uint64)


def unpack_bits(w: np.ndarray, n: int) -> np.ndarray:
    """Return ±1 int8 values (..., n) from packed words."""
    b = np.unpackbits(np.ascontiguousarray(w).view(np.uint8), axis=-1, bitorder="little")
    return np.where(b[..., :n] > 0, 1, -1).astype(np.int8)
