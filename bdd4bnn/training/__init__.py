"""Training BNNs with PyTorch (optional: ``pip install 'bdd4bnn[train]'``).

Hubara, Courbariaux et al., *Binarized Neural Networks* (NeurIPS 2016): real-valued latent
weights, sign in the forward pass, the straight-through estimator in the backward pass,
batch norm, sign activations, Adam, latent weights clipped to [−1, 1].
"""

from .convert import from_torch, to_torch
from .layers import BinaryLinear, BNNModule, ste_sign, ternarize
from .loop import TrainConfig, evaluate, train

__all__ = [
    "BNNModule",
    "BinaryLinear",
    "ste_sign",
    "ternarize",
    "from_torch",
    "to_torch",
    "TrainConfig",
    "train",
    "evaluate",
]
