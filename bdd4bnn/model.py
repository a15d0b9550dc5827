"""The core model of a binarized neural network: plain, validated data.

A :class:`BNN` is a stack of internal :class:`Block` (linear + optional batch norm + sign)
followed by an :class:`OutputLayer` (linear, argmax). What the numbers *mean* lives in
:mod:`bdd4bnn.semantics`; this module only holds and validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["BatchNorm", "Block", "OutputLayer", "InputQuantizer", "BNN", "TERNARY", "RAW_KINDS"]

TERNARY = (-1, 0, 1)  # allowed weights: binary models use ±1, ternary ones also 0


def _float_vector(value: Any, name: str, size: int) -> np.ndarray:
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ModelError(f"{name}[{i}]: expected a number, got {v!r:.40}")
    elif not isinstance(value, np.ndarray):
        raise ModelError(f"{name}: expected a list of {size} numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelError(f"{name}: expected {size} numbers ({exc})") from None
    if arr.ndim != 1 or arr.shape[0] != size:
        raise ModelError(f"{name}: expected {size} values, got shape {tuple(arr.shape)}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ModelError(f"{name}[{bad[0]}]: value must be finite, got {arr[bad[0]]}")
    return arr


def _sign_matrix(value: Any, name: str, allowed: tuple[int, ...] = (-1, 1)) -> np.ndarray:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":  # strings, booleans, ragged rows, huge integers
            raise TypeError(f"entries of type {arr.dtype}")
        arr = arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelError(f"{name}: not a numeric matrix ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ModelError(f"{name}: expected a non-empty matrix, got shape {tuple(arr.shape)}")
    ok = np.isin(arr, allowed)
    if not ok.all():
        i, j = np.argwhere(~ok)[0]
        want = ", ".join(f"{a:+d}" if a else "0" for a in allowed)
        raise ModelError(f"{name}[{i}][{j}]: weight must be {want}, got {arr[i, j]}")
    return arr.astype(np.int8)


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Batch-norm parameters: z = gamma * (a - mean) / sqrt(var + eps) + beta."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5

    @classmethod
    def checked(cls, size: int, gamma, beta, mean, var, eps=1e-5, name="bn") -> BatchNorm:
        """Return a validated batch norm for `size` neurons."""
        g = _float_vector(gamma, f"{name}.gamma", size)
        b = _float_vector(beta, f"{name}.beta", size)
        m = _float_vector(mean, f"{name}.mean", size)
        v = _float_vector(var, f"{name}.var", size)
        try:
            e = float(eps)
        except (TypeError, ValueError):
            raise ModelError(f"{name}.eps: expected a number, got {eps!r}") from None
        if not np.isfinite(e) or e < 0:
            raise ModelError(f"{name}.eps: must be finite and >= 0, got {e}")
        bad = np.flatnonzero(~(v + e > 0))
        if bad.size:
            raise ModelError(f"{name}.var[{bad[0]}]: var + eps must be > 0, got {v[bad[0]] + e}")
        return cls(g, b, m, v, e)


@dataclass(frozen=True, eq=False)
class Block:
    """An internal block: a = W x + b, optional batch norm, h = sign (sign(0) = +1)."""

    weight: np.ndarray  # int8, shape (out, in), entries in {-1, 0, +1} (0: ternary models)
    bias: np.ndarray  # float64, shape (out,)
    bn: BatchNorm | None = None

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True, eq=False)
class OutputLayer:
    """The output layer: scores s = W h + b; the predicted class is the lowest argmax."""

    weight: np.ndarray  # int8, shape (classes, in)
    bias: np.ndarray  # float64, shape (classes,)

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])


RAW_KINDS = ("uint8", "float")


@dataclass(frozen=True, eq=False)
class InputQuantizer:
    """How raw inputs become the first layer's ±1 values: input i is +1 iff raw_i ≥
    ``threshold[i]``. ``raw``: "uint8" (integers ``low``..``high``) or "float" (reals in
    [``low``, ``high``]); a threshold above ``high`` means never +1, one at or below ``low``
    always."""

    raw: str
    low: float
    high: float
    threshold: np.ndarray  # float64, one per input

    @classmethod
    def checked(cls, size: int, spec: Any, name: str = "input") -> InputQuantizer:
        """Return a validated quantizer for ``size`` inputs from its JSON object."""
        if not isinstance(spec, dict):
            raise ModelError(f"{name}: expected an object")
        unknown = set(spec) - {"raw", "low", "high", "threshold"}
        if unknown:
            raise ModelError(f"{name}.{sorted(unknown)[0]}: unknown field")
        raw = spec.get("raw")
        if raw not in RAW_KINDS:
            raise ModelError(f"{name}.raw: expected one of {RAW_KINDS}, got {raw!r}")
        lo, hi = (
            _float_vector([spec.get(k, d)], f"{name}.{k}", 1)[0]
            for k, d in (("low", 0), ("high", 255 if raw == "uint8" else 1))
        )
        if not lo < hi:
            raise ModelError(f"{name}: low {lo} must be below high {hi}")
        if raw == "uint8" and not (lo == int(lo) and hi == int(hi) and 0 <= lo and hi <= 255):
            raise ModelError(f"{name}: uint8 bounds must be integers in 0..255, got {lo}..{hi}")
        if "threshold" not in spec:
            raise ModelError(f"{name}.threshold: missing field")
        th = spec["threshold"]
        if isinstance(th, (int, float)) and not isinstance(th, bool):
            th = [th] * size
        t = _float_vector(th, f"{name}.threshold", size)
        return cls(raw, float(lo), float(hi), t)

    def to_dict(self) -> dict[str, Any]:
        th = self.threshold
        same = bool((th == th[0]).all())
        num = (lambda v: int(v)) if self.raw == "uint8" else float  # noqa: E731
        return {
            "raw": self.raw,
            "low": num(self.low),
            "high": num(self.high),
            "threshold": num(th[0]) if same else [num(v) for v in th],
        }

    def binarize(self, raw: Any) -> np.ndarray:
        """Return ±1 inputs (int8, (N, size)) from raw inputs (N, ...) of this quantizer's
        range (values outside it are an error)."""
        from .errors import InputError

        x = np.asarray(raw)
        n = self.threshold.size
        if x.size % n or x.ndim == 0:
            raise InputError(f"raw input of {x.size} values: the model reads {n} per input")
        x = x.reshape(-1, n).astype(np.float64)
        if not np.isfinite(x).all() or (x < self.low).any() or (x > self.high).any():
            raise InputError(f"raw input values must lie in {self.low:g}..{self.high:g}")
        return np.where(x >= self.threshold, 1, -1).astype(np.int8)


@dataclass(frozen=True, eq=False)
class BNN:
    """A binarized neural network: input size, internal blocks, output layer, metadata."""

    input_size: int
    blocks: tuple[Block, ...]
    output: OutputLayer
    metadata: dict[str, Any] = field(default_factory=dict)
    quantizer: InputQuantizer | None = None  # raw inputs -> ±1 (format version 2)

    @classmethod
    def build(
        cls,
        input_size: int,
        blocks: list[dict[str, Any]],
        output: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        quantizer: dict[str, Any] | None = None,
    ) -> BNN:
        """Return a validated BNN from plain values (lists or arrays).

        Each block is ``{"weight", "bias"?, "bn"?: {"gamma","beta","mean","var","eps"?}}``;
        ``output`` is ``{"weight", "bias"?}``; ``quantizer`` an :class:`InputQuantizer`'s
        JSON object. Errors name the offending field.
        """
        if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)):
            raise ModelError(f"input_size: expected a positive integer, got {input_size!r}")
        if input_size <= 0:
            raise ModelError(f"input_size: expected a positive integer, got {input_size}")
        size = int(input_size)
        built: list[Block] = []
        for i, spec in enumerate(blocks):
            name = f"blocks[{i}]"
            if not isinstance(spec, dict):
                raise ModelError(f"{name}: expected an object")
            if "weight" not in spec:
                raise ModelError(f"{name}.weight: missing field")
            w = _sign_matrix(spec["weight"], f"{name}.weight", TERNARY)
            if w.shape[1] != size:
                raise ModelError(
                    f"{name}.weight: expected {size} columns (inputs), got {w.shape[1]}"
                )
            rows = w.shape[0]
            bias = spec.get("bias")
            b = np.zeros(rows) if bias is None else _float_vector(bias, f"{name}.bias", rows)
            bn = None
            if spec.get("bn") is not None:
                p = spec["bn"]
                if not isinstance(p, dict):
                    raise ModelError(f"{name}.bn: expected an object")
                for key in ("gamma", "beta", "mean", "var"):
                    if key not in p:
                        raise ModelError(f"{name}.bn.{key}: missing field")
                eps = p.get("eps", 1e-5)
                bn = BatchNorm.checked(
                    rows, p["gamma"], p["beta"], p["mean"], p["var"], eps, f"{name}.bn"
                )
            built.append(Block(w, b, bn))
            size = rows
        if not isinstance(output, dict):
            raise ModelError("output: expected an object")
        if "weight" not in output:
            raise ModelError("output.weight: missing field")
        w = _sign_matrix(output["weight"], "output.weight", TERNARY)
        if w.shape[1] != size:
            raise ModelError(f"output.weight: expected {size} columns (inputs), got {w.shape[1]}")
        bias = output.get("bias")
        b = np.zeros(w.shape[0]) if bias is None else _float_vector(bias, "output.bias", w.shape[0])
        q = None if quantizer is None else InputQuantizer.checked(int(input_size), quantizer)
        return cls(int(input_size), tuple(built), OutputLayer(w, b), dict(metadata or {}), q)

    @property
    def num_classes(self) -> int:
        return self.output.num_classes

    @property
    def layer_sizes(self) -> list[int]:
        """Return [input, hidden..., classes]."""
        return [self.input_size, *(b.out_size for b in self.blocks), self.num_classes]

    @property
    def num_parameters(self) -> int:
        n = sum(b.weight.size + b.bias.size + (4 * b.out_size if b.bn else 0) for b in self.blocks)
        return int(n + self.output.weight.size + self.output.bias.size)

    @property
    def name(self) -> str:
        """Return the model's name (``metadata["name"]``, else "model")."""
        return str(self.metadata.get("name", "model"))

    def describe(self) -> dict[str, Any]:
        """Return a JSON-ready description: name, sizes, parameter count, layers, metadata."""
        layers: list[dict[str, Any]] = [
            {
                "kind": "block",
                "index": i,
                "in": b.in_size,
                "out": b.out_size,
                "batch_norm": b.bn is not None,
                "eps": None if b.bn is None else b.bn.eps,
            }
            for i, b in enumerate(self.blocks)
        ]
        layers.append({"kind": "output", "in": self.output.in_size, "out": self.num_classes})
        return {
            "name": self.name,
            "input_size": self.input_size,
            "layer_sizes": self.layer_sizes,
            "num_classes": self.num_classes,
            "parameters": self.num_parameters,
            "layers": layers,
            "input_quantizer": None if self.quantizer is None else self.quantizer.to_dict(),
            "metadata": self.metadata,
        }
