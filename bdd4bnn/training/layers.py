"""Binarized layers: the straight-through sign, binary / ternary linear layers, multi-level
activations (GXNOR's multi-step discretization, k-bit), the network.

In training mode the network is an ordinary float32 PyTorch module. In eval mode its forward
pass computes exactly :mod:`bdd4bnn.semantics` (float64 batch norm in the same operation order,
sign(0) = +1, integer scores plus the exact biases), so the exported model and the module
predict the same class on every input.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "ste_sign",
    "ternarize",
    "BinaryLinear",
    "BNNModule",
    "TERNARY_DELTA",
    "activation_levels",
    "ste_levels",
]

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


def activation_levels(
    activations: str = "binary", bits: int = 1
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Return (levels, steps) of a hidden activation: level k where k = #{t : z ≥ steps[t]}.

    "binary" (1 bit): (−1, +1) at 0; "ternary" (GXNOR): (−1, 0, +1) at ∓0.5; ``bits`` = b ≥ 2:
    the signed integers −2^(b−1) .. 2^(b−1) − 1 at the midpoints (round half up)."""
    if activations not in ("binary", "ternary"):
        raise ValueError(f"activations: expected binary or ternary, got {activations!r}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 4:
        raise ValueError(f"bits: expected an integer 1..4, got {bits!r}")
    if activations == "ternary":
        if bits != 1:
            raise ValueError("give ternary activations or a bit width, not both")
        return (-1, 0, 1), (-0.5, 0.5)
    if bits == 1:
        return (-1, 1), (0.0,)
    levels = tuple(range(-(2 ** (bits - 1)), 2 ** (bits - 1)))
    return levels, tuple(v + 0.5 for v in levels[:-1])


class _LevelSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, levels, steps):  # type: ignore[override]
        ctx.save_for_backward(z)
        ctx.window = (float(levels[0]) - 0.5, float(levels[-1]) + 0.5)
        k = (z.unsqueeze(-1) >= steps).sum(dim=-1)
        return levels.to(z.dtype)[k]

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (z,) = ctx.saved_tensors
        lo, hi = ctx.window
        return grad * ((z >= lo) & (z <= hi)).to(grad.dtype), None, None


def ste_levels(z: torch.Tensor, levels: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Return the multi-step discretization levels[#{t : z ≥ steps[t]}]; the derivative is
    approximated by 1 on the levels' span widened by half a step (GXNOR's rectangular window,
    the straight-through estimator's multi-level form), 0 outside."""
    return _LevelSTE.apply(z, levels, steps)


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

    def __init__(
        self, sizes: list[int], ternary: bool = False, activations: str = "binary", bits: int = 1
    ) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ValueError("sizes: need input, at least one hidden layer, and classes")
        self.sizes = list(sizes)
        self.ternary = ternary
        self.levels, self.steps = activation_levels(activations, bits)
        self.register_buffer("level_t", torch.tensor(self.levels, dtype=torch.float64))
        self.register_buffer("step_t", torch.tensor(self.steps, dtype=torch.float64))
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
            z = bn(lin(h))
            if self.levels == (-1, 1):
                h = ste_sign(z)
            else:
                h = ste_levels(z, self.level_t.float(), self.step_t.float())
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
            k = (z.unsqueeze(-1) >= self.step_t.double()).sum(dim=-1)
            h = self.level_t.double()[k]  # binary: z >= 0 gives +1
        w = (
            ternarize(self.out.weight)
            if self.ternary
            else torch.where(self.out.weight >= 0, 1.0, -1.0)
        ).double()
        return h @ w.T + self.out.bias.double()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Return the predicted class (lowest index among maximal scores)."""
        return self.exact_scores(x).argmax(dim=1)
