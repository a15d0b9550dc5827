"""Binarized layers: the straight-through sign, binary / ternary linear layers, the network.

In training mode the network is an ordinary float32 PyTorch module. In eval mode its forward
pass computes exactly :mod:`bdd4bnn.semantics` (float64 batch norm in the same operation order,
sign(0) = +1, integer scores plus the exact biases), so the exported model and the module
predict the same class on every input.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ste_sign", "ternarize", "BinaryLinear", "BNNModule", "TERNARY_DELTA"]

TERNARY_DELTA = 0.7  # ternary threshold Δ = 0.7 · mean|W| (Li & Liu, ternary weight networks)


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def ste_sign(x: torch.Tensor) -> torch.Tensor:
    """Return sign(x) with sign(0) = +1; the gradient passes where |x| <= 1, else 0."""
    return _SignSTE.apply(x)


class _TernarySTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):  # type: ignore[override]
        ctx.save_for_backward(w)
        return ternarize(w)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


def ternarize(w: torch.Tensor) -> torch.Tensor:
    """Return weights in {−1, 0, +1}: 0 where |w| < Δ = 0.7·mean|w| (per output row)."""
    delta = TERNARY_DELTA * w.abs().mean(dim=-1, keepdim=True)
    return torch.where(w.abs() < delta, 0.0, torch.where(w >= 0, 1.0, -1.0)).to(w.dtype)


class BinaryLinear(nn.Linear):
    """A linear layer whose forward pass uses sign(latent weights) (or their ternarization)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, ternary: bool = False
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.ternary = ternary
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def quantized_weight(self) -> torch.Tensor:
        """Return the weights the network uses, with the straight-through gradient."""
        return _TernarySTE.apply(self.weight) if self.ternary else ste_sign(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.quantized_weight(), self.bias)

    def clip_(self) -> None:
        """Clip the latent weights to [−1, 1] (after each optimiser step)."""
        with torch.no_grad():
            self.weight.clamp_(-1.0, 1.0)


class BNNModule(nn.Module):
    """input (±1) → [BinaryLinear → BatchNorm1d → sign] × L → BinaryLinear → scores.

    A learnable positive scale multiplies the scores in training only (argmax is unchanged).
    """

    def __init__(self, sizes: list[int], ternary: bool = False) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ValueError("sizes: need input, at least one hidden layer, and classes")
        self.sizes = list(sizes)
        self.ternary = ternary
        self.linears = nn.ModuleList(
            BinaryLinear(a, b, ternary=ternary)
            for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in sizes[1:-1])
        self.out = BinaryLinear(sizes[-2], sizes[-1], ternary=ternary)
        self.log_scale = nn.Parameter(torch.tensor(-2.0))

    def clip_(self) -> None:
        for lin in [*self.linears, self.out]:
            lin.clip_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact_scores(x)
        h = x.float()
        for lin, bn in zip(self.linears, self.norms, strict=True):
            h = ste_sign(bn(lin(h)))
        return self.out(h) * self.log_scale.exp()

    @torch.no_grad()
    def exact_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Return float64 scores computed exactly as :mod:`bdd4bnn.semantics` does."""
        h = x.double()
        for lin, bn in zip(self.linears, self.norms, strict=True):
            w = (
                ternarize(lin.weight) if self.ternary else torch.where(lin.weight >= 0, 1.0, -1.0)
            ).double()
            a = h @ w.T + lin.bias.double()
            z = (
                bn.weight.double()
                * (a - bn.running_mean.double())
                / torch.sqrt(bn.running_var.double() + bn.eps)
                + bn.bias.double()
            )
            h = torch.where(z >= 0, 1.0, -1.0).double()
        w = (
            ternarize(self.out.weight)
            if self.ternary
            else torch.where(self.out.weight >= 0, 1.0, -1.0)
        ).double()
        return h @ w.T + self.out.bias.double()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Return the predicted class (lowest index among maximal scores)."""
        return self.exact_scores(x).argmax(dim=1)
