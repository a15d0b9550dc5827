"""The core model of a binarized neural network: plain, validated data.

A :class:`BNN` is a stack of internal :class:`Block` (linear + optional batch norm + sign)
followed by an :class:`OutputLayer` (linear, argmax). What the numbers *mean* lives in
:mod:`bdd4bnn.semantics`; this module only holds and validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = [
    "BatchNorm",
    "Block",
    "OutputLayer",
    "InputQuantizer",
    "BNN",
    "TERNARY",
    "BINARY_LEVELS",
    "WEIGHT_MAX",
    "MAX_LEVELS",
    "RAW_KINDS",
    "check_levels",
]

TERNARY = (-1, 0, 1)  # weights of binary models: ±1, and 0 in ternary ones
WEIGHT_MAX = 15  # multi-level models: integer weights in -15..15 (4-bit, signed or not)
BINARY_LEVELS = (-1, 1)  # the activation levels of a sign neuron (and of binary inputs)
MAX_LEVELS = 16  # at most 4 bits of levels
LEVEL_MAX = 127  # |level| (activations are int8)


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


def check_levels(value: Any, name: str) -> tuple[int, ...]:
    """Return validated activation levels: 2..16 strictly increasing integers in -127..127."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ModelError(f"{name}: expected a list of increasing integers, got {value!r:.40}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ModelError(f"{name}[{i}]: expected an integer, got {v!r:.40}")
        if not (np.isfinite(v) and float(v) == int(v)) or abs(int(v)) > LEVEL_MAX:
            raise ModelError(f"{name}[{i}]: expected an integer in -127..127, got {v!r:.40}")
        out.append(int(v))
    if not 2 <= len(out) <= MAX_LEVELS:
        raise ModelError(f"{name}: expected 2..{MAX_LEVELS} levels, got {len(out)}")
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ModelError(f"{name}: levels must increase, got {out[i - 1]} then {out[i]}")
    return tuple(out)


def _thresholds(value: Any, name: str, rows: int, steps: int) -> np.ndarray:
    """Return integer thresholds (int64, (rows, steps)), each row non-decreasing."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"entries of type {arr.dtype}")
        arr = arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelError(f"{name}: not a numeric matrix ({exc})") from None
    if arr.ndim == 1 and steps == 1:
        arr = arr[:, None]
    if arr.shape != (rows, steps):
        raise ModelError(f"{name}: expected shape ({rows}, {steps}), got {tuple(arr.shape)}")
    bad = np.argwhere(~np.isfinite(arr) | (arr != np.round(arr)) | (np.abs(arr) > 2**40))
    if bad.size:
        i, t = bad[0]
        raise ModelError(f"{name}[{i}][{t}]: expected an integer, got {arr[i, t]}")
    down = np.argwhere(np.diff(arr, axis=1) < 0)
    if down.size:
        i, t = down[0]
        raise ModelError(
            f"{name}[{i}]: thresholds must be sorted, got {arr[i, t]:.0f} then {arr[i, t + 1]:.0f}"
        )
    return arr.astype(np.int64)


def _sign_matrix(value: Any, name: str, allowed: tuple[int, ...] = (-1, 1)) -> np.ndarray:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":  # strings, booleans, ragged rows, huge integers
            raise TypeError(f"entries of type {arr.dtype}")
        if arr.dtype.kind == "f":  # integer arrays (unpacked bits) are checked as they are
            arr = arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelError(f"{name}: not a numeric matrix ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ModelError(f"{name}: expected a non-empty matrix, got shape {tuple(arr.shape)}")
    ok = np.isin(arr, allowed)
    if not ok.all():
        i, j = np.argwhere(~ok)[0]
        want = ", ".join(f"{a:+d}" if a else "0" for a in allowed)
        if len(allowed) > 3:
            want = f"an integer in {min(allowed)}..{max(allowed)}"
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
    """An internal block: a = W x + b, optional batch norm, h = sign (sign(0) = +1); or, with
    ``thresholds``, a multi-threshold step on the integer dot D = W x: h_j = levels[k] with
    k the number of thresholds of neuron j at or below D_j (FINN's MultiThreshold)."""

    weight: np.ndarray  # int8, shape (out, in): ±1 (0: ternary), -15..15 in multi-level models
    bias: np.ndarray  # float64, shape (out,) (zeros with thresholds)
    bn: BatchNorm | None = None
    levels: tuple[int, ...] = BINARY_LEVELS  # the output levels, increasing
    thresholds: np.ndarray | None = None  # int64, (out, len(levels) - 1), rows sorted

    @property
    def is_sign(self) -> bool:
        """Return whether the block is a sign block (bias, batch norm, ±1 outputs)."""
        return self.thresholds is None

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])

    @cached_property
    def max_abs_weight(self) -> int:
        """Return the largest |weight| (the weights never change after building)."""
        return int(np.abs(self.weight.astype(np.int16)).max(initial=0))

    @cached_property
    def weight_t32(self) -> np.ndarray:
        """Return Wᵀ in binary32, made once (the reference inference's BLAS operand)."""
        return np.ascontiguousarray(self.weight.T, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the binary32 copy (a model sent to workers stays int8)."""
        return {k: v for k, v in self.__dict__.items() if k != "weight_t32"}


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


def _multi_block(spec: dict[str, Any], name: str, w: np.ndarray) -> Block:
    """Return a multi-threshold block from its JSON object (weights already checked)."""
    for key in ("bias", "bn"):
        if spec.get(key) is not None:
            raise ModelError(f"{name}.{key}: a block with thresholds has no {key}")
    levels = check_levels(spec.get("levels", list(BINARY_LEVELS)), f"{name}.levels")
    if "thresholds" not in spec:
        raise ModelError(f"{name}.thresholds: missing field (a block with levels needs them)")
    th = _thresholds(spec["thresholds"], f"{name}.thresholds", w.shape[0], len(levels) - 1)
    return Block(w, np.zeros(w.shape[0]), None, levels, th)


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
    threshold: np.ndarray  # float64, one per input; (inputs, levels - 1) for multi-level inputs
    levels: tuple[int, ...] = BINARY_LEVELS  # input i is levels[#{t: raw_i >= threshold[i, t]}]

    @property
    def steps(self) -> np.ndarray:
        """Return the thresholds as a matrix (inputs, levels − 1)."""
        return self.threshold.reshape(self.threshold.shape[0], -1)

    @classmethod
    def checked(
        cls, size: int, spec: Any, name: str = "input", levels: tuple[int, ...] = BINARY_LEVELS
    ) -> InputQuantizer:
        """Return a validated quantizer for ``size`` inputs from its JSON object (``levels``:
        the model's input levels; with more than two, ``threshold`` is a list of
        ``len(levels) - 1`` increasing numbers shared by every input, or one such list per
        input)."""
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
        if len(levels) > 2:
            steps = len(levels) - 1
            if isinstance(th, list) and th and not isinstance(th[0], list):
                th = [th] * size
            if not isinstance(th, list) or len(th) != size:
                raise ModelError(
                    f"{name}.threshold: expected {steps} numbers or {size} lists of them"
                )
            t = np.stack(
                [_float_vector(r, f"{name}.threshold[{i}]", steps) for i, r in enumerate(th)]
            )
            down = np.argwhere(np.diff(t, axis=1) < 0)
            if down.size:
                raise ModelError(f"{name}.threshold[{down[0][0]}]: thresholds must be sorted")
            return cls(raw, float(lo), float(hi), t, tuple(levels))
        if isinstance(th, (int, float)) and not isinstance(th, bool):
            th = [th] * size
        t = _float_vector(th, f"{name}.threshold", size)
        return cls(raw, float(lo), float(hi), t)

    def to_dict(self) -> dict[str, Any]:
        th = self.threshold
        same = bool((th == th[0]).all())
        num = (lambda v: int(v)) if self.raw == "uint8" else float  # noqa: E731
        if th.ndim == 2:
            rows = [[num(v) for v in r] for r in th]
            value: Any = rows[0] if same else rows
        else:
            value = num(th[0]) if same else [num(v) for v in th]
        return {"raw": self.raw, "low": num(self.low), "high": num(self.high), "threshold": value}

    def quantize(self, raw: Any) -> np.ndarray:
        """Return the inputs' levels (int8, (N, size); ±1 for binary inputs) from raw inputs
        (N, ...) of this quantizer's range (values outside it are an error)."""
        from .errors import InputError

        x = np.asarray(raw)
        n = self.threshold.shape[0]
        if x.size % n or x.ndim == 0:
            raise InputError(f"raw input of {x.size} values: the model reads {n} per input")
        x = x.reshape(-1, n).astype(np.float64)
        if not np.isfinite(x).all() or (x < self.low).any() or (x > self.high).any():
            raise InputError(f"raw input values must lie in {self.low:g}..{self.high:g}")
        k = (x[:, :, None] >= self.steps[None]).sum(axis=2)
        return np.asarray(self.levels, dtype=np.int8)[k]


@dataclass(frozen=True, eq=False)
class BNN:
    """A binarized (or multi-level) neural network: input size, internal blocks, output layer,
    metadata, the input quantizer and the inputs' levels."""

    input_size: int
    blocks: tuple[Block, ...]
    output: OutputLayer
    metadata: dict[str, Any] = field(default_factory=dict)
    quantizer: InputQuantizer | None = None  # raw inputs -> levels (format version 2)
    input_levels: tuple[int, ...] = BINARY_LEVELS

    @cached_property
    def is_binary(self) -> bool:
        """Return whether every input and activation is ±1 and every weight ±1 or 0: the
        networks the engines read directly (others go through their thermometer form,
        :func:`bdd4bnn.thermometer.unfold`)."""
        return (
            self.input_levels == BINARY_LEVELS
            and all(b.is_sign for b in self.blocks)
            and all(np.isin(w, TERNARY).all() for w in self._weights())
        )

    def _weights(self) -> list[np.ndarray]:
        return [b.weight for b in self.blocks] + [self.output.weight]

    @classmethod
    def build(
        cls,
        input_size: int,
        blocks: list[dict[str, Any]],
        output: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        quantizer: dict[str, Any] | None = None,
        input_levels: Any = None,
    ) -> BNN:
        """Return a validated network from plain values (lists or arrays).

        Each block is ``{"weight", "bias"?, "bn"?: {"gamma","beta","mean","var","eps"?}}`` (a
        sign block) or ``{"weight", "levels"?, "thresholds"}`` (a multi-threshold block);
        ``output`` is ``{"weight", "bias"?}``; ``quantizer`` an :class:`InputQuantizer`'s
        JSON object; ``input_levels`` the inputs' levels (default ±1). Weights are ±1 or 0,
        or integers in -15..15 in a network with a multi-level part. Errors name the
        offending field.
        """
        if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)):
            raise ModelError(f"input_size: expected a positive integer, got {input_size!r}")
        if input_size <= 0:
            raise ModelError(f"input_size: expected a positive integer, got {input_size}")
        levels_in = (
            BINARY_LEVELS if input_levels is None else check_levels(input_levels, "input_levels")
        )
        multi = levels_in != BINARY_LEVELS or any(
            isinstance(b, dict) and ("thresholds" in b or "levels" in b) for b in blocks
        )
        allowed = tuple(range(-WEIGHT_MAX, WEIGHT_MAX + 1)) if multi else TERNARY
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise ModelError("blocks: expected a list of at least one hidden block")
        size = int(input_size)
        built: list[Block] = []
        for i, spec in enumerate(blocks):
            name = f"blocks[{i}]"
            if not isinstance(spec, dict):
                raise ModelError(f"{name}: expected an object")
            if "weight" not in spec:
                raise ModelError(f"{name}.weight: missing field")
            w = _sign_matrix(spec["weight"], f"{name}.weight", allowed)
            if w.shape[1] != size:
                raise ModelError(
                    f"{name}.weight: expected {size} columns (inputs), got {w.shape[1]}"
                )
            rows = w.shape[0]
            if "thresholds" in spec or "levels" in spec:
                built.append(_multi_block(spec, name, w))
                size = rows
                continue
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
        w = _sign_matrix(output["weight"], "output.weight", allowed)
        if w.shape[1] != size:
            raise ModelError(f"output.weight: expected {size} columns (inputs), got {w.shape[1]}")
        bias = output.get("bias")
        b = np.zeros(w.shape[0]) if bias is None else _float_vector(bias, "output.bias", w.shape[0])
        q = (
            None
            if quantizer is None
            else InputQuantizer.checked(int(input_size), quantizer, levels=levels_in)
        )
        return cls(
            int(input_size), tuple(built), OutputLayer(w, b), dict(metadata or {}), q, levels_in
        )

    @property
    def num_classes(self) -> int:
        return self.output.num_classes

    @property
    def layer_sizes(self) -> list[int]:
        """Return [input, hidden..., classes]."""
        return [self.input_size, *(b.out_size for b in self.blocks), self.num_classes]

    @property
    def num_parameters(self) -> int:
        n = sum(
            b.weight.size
            + (b.bias.size if b.is_sign else b.thresholds.size)  # type: ignore[union-attr]
            + (4 * b.out_size if b.bn else 0)
            for b in self.blocks
        )
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
                "levels": list(b.levels),
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
            "input_levels": list(self.input_levels),
            "input_quantizer": None if self.quantizer is None else self.quantizer.to_dict(),
            "metadata": self.metadata,
        }
