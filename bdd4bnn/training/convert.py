"""A trained :class:`BNNModule` to a :class:`~bdd4bnn.model.BNN` and back, exactly."""

from __future__ import annotations

from typing import Any

import torch

from ..model import BNN
from .layers import BNNModule, ternarize


def _weights(lin: Any, ternary: bool) -> list[list[int]]:
    w = ternarize(lin.weight) if ternary else torch.where(lin.weight >= 0, 1.0, -1.0)
    return w.detach().to(torch.int8).tolist()


def _floats(t: torch.Tensor) -> list[float]:
    return t.detach().double().tolist()


def from_torch(module: BNNModule, metadata: dict[str, Any] | None = None) -> BNN:
    """Return the BNN the module computes in eval mode (float32 values kept exactly)."""
    blocks = []
    for lin, bn in zip(module.linears, module.norms, strict=True):
        blocks.append(
            {
                "weight": _weights(lin, module.ternary),
                "bias": _floats(lin.bias),
                "bn": {
                    "gamma": _floats(bn.weight),
                    "beta": _floats(bn.bias),
                    "mean": _floats(bn.running_mean),
                    "var": _floats(bn.running_var),
                    "eps": float(bn.eps),
                },
            }
        )
    output = {"weight": _weights(module.out, module.ternary), "bias": _floats(module.out.bias)}
    meta = dict(metadata or {})
    meta.setdefault("ternary", module.ternary)
    return BNN.build(module.sizes[0], blocks, output, meta)


def to_torch(model: BNN) -> BNNModule:
    """Return an eval-mode BNNModule computing ``model`` exactly (weights as latent ±1 / 0).

    Parameters are stored in float64 so that any bias or batch-norm value round-trips.
    """
    ternary = any((b.weight == 0).any() for b in model.blocks) or bool(
        (model.output.weight == 0).any()
    )
    module = BNNModule(model.layer_sizes, ternary=ternary).double()
    with torch.no_grad():
        for lin, bn, block in zip(module.linears, module.norms, model.blocks, strict=True):
            # latent weights ±1 / 0 reproduce themselves under sign / ternarize
            lin.weight.copy_(torch.as_tensor(block.weight, dtype=torch.float64))
            lin.bias.copy_(torch.as_tensor(block.bias))
            if block.bn is None:
                bn.weight.fill_(1.0)
                bn.bias.zero_()
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0)
                bn.eps = 0.0
            else:
                bn.weight.copy_(torch.as_tensor(block.bn.gamma))
                bn.bias.copy_(torch.as_tensor(block.bn.beta))
                bn.running_mean.copy_(torch.as_tensor(block.bn.mean))
                bn.running_var.copy_(torch.as_tensor(block.bn.var))
                bn.eps = block.bn.eps
        module.out.weight.copy_(torch.as_tensor(model.output.weight, dtype=torch.float64))
        module.out.bias.copy_(torch.as_tensor(model.output.bias))
    return module.eval()
