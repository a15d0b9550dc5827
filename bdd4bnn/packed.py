"""Compact model files for large networks: bit-packed weights in a NumPy ``.npz`` archive.

JSON holds small models well; a 784-2048-2048-2048-10 MLP has 10⁷ weights, 30 MB as JSON text
and Python lists when read. A ``.npz`` model stores each layer's weights as bits instead
(``np.packbits`` along the inputs: 1 bit per ±1 weight, a second bit plane for the zeros of
ternary layers; multi-level networks with wider weights keep them as int8) next to the
floating-point arrays of biases and batch norms and the integer thresholds, and one JSON header
for everything else (sizes, metadata, the input quantizer, levels). No pickles are read
(``allow_pickle=False``), the file is read through the bounded reader, and every shape is
checked against the header before use: a malformed archive is a one-line
:class:`~bdd4bnn.errors.ModelError`. Loading 10⁷ weights takes well under a second (unpacking
is vectorised) and the model holds them as int8 arrays, one byte per weight.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .files import MODEL_MAX, read_bytes
from .model import BINARY_LEVELS, BNN, TERNARY, check_levels

__all__ = ["PACKED_FORMAT", "save_packed", "load_packed"]

PACKED_FORMAT = "bdd4bnn.packed"
PACKED_VERSION = 1


def _pack(name: str, w: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    """Store weights ``w`` under ``name``; return how ("bits", "ternary" or "int8")."""
    if np.isin(w, (-1, 1)).all():
        arrays[f"{name}.sign"] = np.packbits(w > 0, axis=1)
        return "bits"
    if np.isin(w, TERNARY).all():
        arrays[f"{name}.sign"] = np.packbits(w > 0, axis=1)
        arrays[f"{name}.zero"] = np.packbits(w == 0, axis=1)
        return "ternary"
    arrays[f"{name}.weight"] = np.ascontiguousarray(w, dtype=np.int8)
    return "int8"


def save_packed(model: BNN, path: str | Path) -> None:
    """Write ``model`` as a compact ``.npz`` model (module docstring)."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, b in enumerate(model.blocks):
        name = f"b{i}"
        spec: dict[str, Any] = {"in": b.in_size, "out": b.out_size}
        spec["weights"] = _pack(name, b.weight, arrays)
        if b.thresholds is not None:
            spec["levels"] = list(b.levels)
            arrays[f"{name}.thresholds"] = b.thresholds.astype(np.int64)
        else:
            arrays[f"{name}.bias"] = b.bias.astype(np.float64)
            if b.bn is not None:
                arrays[f"{name}.bn"] = np.stack([b.bn.gamma, b.bn.beta, b.bn.mean, b.bn.var])
                spec["eps"] = b.bn.eps
        layers.append(spec)
    out = model.output
    out_spec = {
        "in": out.in_size,
        "out": out.num_classes,
        "weights": _pack("out", out.weight, arrays),
    }
    arrays["out.bias"] = out.bias.astype(np.float64)
    header = {
        "format": PACKED_FORMAT,
        "version": PACKED_VERSION,
        "input_size": model.input_size,
        "input_levels": list(model.input_levels),
        "blocks": layers,
        "output": out_spec,
        "input": None if model.quantizer is None else model.quantizer.to_dict(),
        "metadata": model.metadata,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    Path(path).write_bytes(buf.getvalue())


def _array(z: Any, key: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if key not in z.files:
        raise ModelError(f"{key}: missing array")
    a = z[key]
    if a.shape != shape or a.dtype.kind != kind:
        raise ModelError(f"{key}: expected {kind}-array of shape {shape}, got {a.dtype} {a.shape}")
    return a


def _unpack(z: Any, name: str, how: Any, rows: int, cols: int) -> np.ndarray:
    packed = (rows, (cols + 7) // 8)
    if how in ("bits", "ternary"):
        bits = np.unpackbits(_array(z, f"{name}.sign", packed, "u"), axis=1, count=cols)
        w = (bits.astype(np.int8) << 1) - 1  # 1 → +1, 0 → −1
        if how == "ternary":
            zero = np.unpackbits(_array(z, f"{name}.zero", packed, "u"), axis=1, count=cols)
            w[zero.astype(bool)] = 0
        return w
    if how == "int8":
        return _array(z, f"{name}.weight", (rows, cols), "i").astype(np.int8)
    raise ModelError(f"{name}.weights: expected bits, ternary or int8, got {how!r:.40}")


def _size(spec: Any, key: str, name: str) -> int:
    v = spec.get(key) if isinstance(spec, dict) else None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= 1 << 24:
        raise ModelError(f"{name}.{key}: expected a positive size, got {v!r:.40}")
    return v


def load_packed(path: str | Path) -> BNN:
    """Return the model of a compact ``.npz`` file (module docstring)."""
    data = read_bytes(Path(path), MODEL_MAX, "model", ModelError)
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"not a readable .npz model ({type(exc).__name__})") from None
    try:
        return _from_archive(z)
    except (ValueError, KeyError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelError(f"malformed .npz model ({type(exc).__name__}: {exc})") from None


def _from_archive(z: Any) -> BNN:
    if "header" not in z.files:
        raise ModelError("header: missing array (not a bdd4bnn .npz model)")
    try:
        header = json.loads(z["header"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise ModelError("header: not a JSON document") from None
    if not isinstance(header, dict) or header.get("format") != PACKED_FORMAT:
        raise ModelError(f"format: expected {PACKED_FORMAT!r}")
    if header.get("version") != PACKED_VERSION:
        raise ModelError(f"version: unsupported version {header.get('version')!r:.20}")
    n = _size(header, "input_size", "header")
    specs = header.get("blocks")
    if not isinstance(specs, list) or not specs:
        raise ModelError("blocks: expected a list of at least one hidden block")
    levels_in = check_levels(header.get("input_levels", list(BINARY_LEVELS)), "input_levels")
    blocks = []
    width = n
    for i, spec in enumerate(specs):
        name = f"b{i}"
        rows, cols = _size(spec, "out", name), _size(spec, "in", name)
        if cols != width:
            raise ModelError(f"{name}.in: expected {width} inputs, got {cols}")
        w = _unpack(z, name, spec.get("weights"), rows, cols)
        if "levels" in spec:
            levels = check_levels(spec["levels"], f"{name}.levels")
            th = _array(z, f"{name}.thresholds", (rows, len(levels) - 1), "i")
            blocks.append({"weight": w, "levels": list(levels), "thresholds": th})
        else:
            bias = _array(z, f"{name}.bias", (rows,), "f")
            block: dict[str, Any] = {"weight": w, "bias": bias}
            if f"{name}.bn" in z.files:
                g, b, m, v = _array(z, f"{name}.bn", (4, rows), "f")
                block["bn"] = {
                    "gamma": g,
                    "beta": b,
                    "mean": m,
                    "var": v,
                    "eps": spec.get("eps", 1e-5),
                }
            blocks.append(block)
        width = rows
    out = header.get("output")
    rows, cols = _size(out, "out", "output"), _size(out, "in", "output")
    if cols != width:
        raise ModelError(f"output.in: expected {width} inputs, got {cols}")
    output = {
        "weight": _unpack(z, "out", out.get("weights"), rows, cols),
        "bias": _array(z, "out.bias", (rows,), "f"),
    }
    meta = header.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ModelError("metadata: expected an object")
    multi = levels_in != BINARY_LEVELS
    return BNN.build(
        n, blocks, output, meta, header.get("input"), list(levels_in) if multi else None
    )
