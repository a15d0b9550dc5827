"""Fast exact binary inference: bit-packing, CPU paths, a Triton XNOR-popcount kernel.

:func:`predict` runs a whole network with the fastest available exact path (Triton on CUDA,
int8 GEMM or float32 BLAS on CPU); every path equals :func:`bdd4bnn.semantics.classify`.
"""

from ..encoders.thresholds import BlockThresholds, block_thresholds
from .bitpack import pack_bits, unpack_bits
from .predict import PATHS, predict

__all__ = [
    "pack_bits",
    "unpack_bits",
    "BlockThresholds",
    "block_thresholds",
    "predict",
    "PATHS",
]
