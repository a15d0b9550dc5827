"""A trained :class:`BNNModule` to a :class:`~bdd4bnn.model.BNN` and back, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..model import BNN
from ..semantics import dot_range, tabulated_thresholds
from .layers import BNNModule, ternarize


def _weights(lin: Any, ternary: bool) -> list[list[int]]:
    w = ternarize(lin.weight) if ternary else torch.where(lin.weight >= 0, 1.0, -1.0)
    return w.detach().to(torch.int8).tolist()


def _floats(t: torch.Tensor) -> list[float]:
    return t.detach().double().tolist()


def _level_block(module: BNNModule, lin: Any, bn: Any, levels_in: tuple[int, ...], b: int):
    """Return the multi-threshold block the module computes: its float64 batch norm (the
    eval-mode arithmetic of :meth:`BNNModule.exact_scores`) evaluated at every reachable
    integer dot, then compared with the activation's steps; a falling neuron (γ < 0) gets its
    weights negated."""
    w = np.asarray(_weights(lin, module.ternary), dtype=np.int64)
    lo = min(dot_range(row, levels_in)[0] for row in w)
    hi = max(dot_range(row, levels_in)[1] for row in w)
    dots = np.arange(lo, hi + 1)
    with torch.no_grad():
        a = torch.as_tensor(dots, dtype=torch.float64)[:, None] + lin.bias.double()
        z = (
            bn.weight.double()
            * (a - bn.running_mean.double())
            / torch.sqrt(bn.running_var.double() + bn.eps)
            + bn.bias.double()
        )
        idx = (z.unsqueeze(-1) >= module.step_t.double()).sum(dim=-1).numpy()
    rising, theta = tabulated_thresholds(dots, idx, len(module.levels), f"block {b} neuron")
    w[~rising] = -w[~rising]
    return {"weight": w.tolist(), "levels": list(module.levels), "thresholds": theta.tolist()}


def from_torch(module: BNNModule, metadata: dict[str, Any] | None = None) -> BNN:
    """Return the network the module computes in eval mode (float32 values kept exactly; a
    multi-level module as multi-threshold blocks)."""
    blocks = []
    for b, (lin, bn) in enumerate(zip(module.linears, module.norms, strict=True)):
        if module.levels != (-1, 1):
            levels_in = (-1, 1) if b == 0 else module.levels
            blocks.append(_level_block(module, lin, bn, levels_in, b))
            continue
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
    if module.levels != (-1, 1):
        meta.setdefault("activation_levels", list(module.levels))
    return BNN.build(module.sizes[0], blocks, output, meta)


def to_torch(model: BNN) -> BNNModule:
    """Return an eval-mode BNNModule computing ``model`` exactly (weights as latent ±1 / 0).

    Parameters are stored in float64 so that any bias or batch-norm value round-trips.
    Multi-level networks (threshold blocks) have no such module: a one-line error.
    """
    if not all(b.is_sign for b in model.blocks) or model.input_levels != (-1, 1):
        from ..errors import ModelError

        raise ModelError(f"model {model.name}: multi-level networks cannot be loaded into torch")
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
