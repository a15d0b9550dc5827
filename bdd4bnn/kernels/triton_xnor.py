"""A Triton XNOR-popcount GEMM fused with the block threshold: one kernel per block.

x: packed inputs (N, Wd) as int64 words; w, mask: packed weight signs and non-zero mask
(M, Wd). For each (row, neuron): mismatches = Σ popcount((x ⊕ w) ∧ mask), dot = nnz − 2·mism,
output +1 iff sign·dot ≥ bound. The popcount is the SWAR bit trick, which runs under
``TRITON_INTERPRET=1`` on CPU (libdevice popc and inline asm do not) and which LLVM turns into
the GPU's native ``popc`` when compiling for CUDA.
"""

from __future__ import annotations

import numpy as np

__all__ = ["available", "block_forward_triton", "kernel"]

try:
    import triton
    import triton.language as tl

    _HAVE_TRITON = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAVE_TRITON = False


def available() -> bool:
    return _HAVE_TRITON


if _HAVE_TRITON:

    @triton.jit
    def _popcount64(v):
        v = v - ((v >> 1) & 0x5555555555555555)
        v = (v & 0x3333333333333333) + ((v >> 2) & 0x3333333333333333)
        v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0F
        return (v * 0x0101010101010101) >> 56

    @triton.jit
    def kernel(
        x_ptr,
        w_ptr,
        m_ptr,
        nnz_ptr,
        sign_ptr,
        bound_ptr,
        out_ptr,
        N,
        M,
        WD,
        BLOCK_N: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_W: tl.constexpr,
    ):
        pid_n = tl.program_id(0)
        pid_m = tl.program_id(1)
        rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.uint64)
        for w0 in range(0, WD, BLOCK_W):
            rw = w0 + tl.arange(0, BLOCK_W)
            xv = tl.load(
                x_ptr + rn[:, None] * WD + rw[None, :],
                mask=(rn[:, None] < N) & (rw[None, :] < WD),
                other=0,
            ).to(tl.uint64)
            wv = tl.load(
                w_ptr + rm[:, None] * WD + rw[None, :],
                mask=(rm[:, None] < M) & (rw[None, :] < WD),
                other=0,
            ).to(tl.uint64)
            mv = tl.load(
                m_ptr + rm[:, None] * WD + rw[None, :],
                mask=(rm[:, None] < M) & (rw[None, :] < WD),
                other=0,
            ).to(tl.uint64)
            diff = (xv[:, None, :] ^ wv[None, :, :]) & mv[None, :, :]
            acc += tl.sum(_popcount64(diff), axis=2)
        nnz = tl.load(nnz_ptr + rm, mask=rm < M, other=0)
        sign = tl.load(sign_ptr + rm, mask=rm < M, other=0)
        bound = tl.load(bound_ptr + rm, mask=rm < M, other=0)
        dot = nnz[None, :] - 2 * acc.to(tl.int32)
        out = tl.where(sign[None, :] * dot >= bound[None, :], 1, -1).to(tl.int8)
        tl.store(
            out_ptr + rn[:, None] * M + rm[None, :], out, mask=(rn[:, None] < N) & (rm[None, :] < M)
        )


def block_forward_triton(
    x: np.ndarray, weight: np.ndarray, sign: np.ndarray, bound: np.ndarray, device: str = "cuda"
) -> np.ndarray:
    """Return the block's ±1 outputs for ±1 inputs ``x`` with the fused Triton kernel."""
    import torch

    from .bitpack import pack_bits

    n, m = x.shape[0], weight.shape[0]
    xp = torch.from_numpy(pack_bits(x).view(np.int64)).to(device)
    wp = torch.from_numpy(pack_bits(weight).view(np.int64)).to(device)
    mp = torch.from_numpy(pack_bits(np.where(weight != 0, 1, -1)).view(np.int64)).to(device)
    nnz = torch.from_numpy((weight != 0).sum(axis=1).astype(np.int32)).to(device)
    sg = torch.from_numpy(sign.astype(np.int32)).to(device)
    bd = torch.from_numpy(bound.astype(np.int32)).to(device)
    out = torch.empty((n, m), dtype=torch.int8, device=device)
    wd = xp.shape[1]
    block_n, block_m, block_w = 16, 16, 4
    grid = (triton.cdiv(n, block_n), triton.cdiv(m, block_m))
    kernel[grid](
        xp, wp, mp, nnz, sg, bd, out, n, m, wd, BLOCK_N=block_n, BLOCK_M=block_m, BLOCK_W=block_w
    )
    return out.cpu().numpy()
