"""Reading and writing models, inputs and free-pixel sets.

Model formats:

* **JSON, versions 1 and 2** (``"format": "bdd4bnn.bnn"``) — see the README for the schema;
  version 2 adds ``"input"``, the input quantizer (:class:`bdd4bnn.model.InputQuantizer`),
  and multi-level networks: ``"input_levels"`` and, per block, ``"levels"`` and
  ``"thresholds"`` (:class:`bdd4bnn.model.Block`).
* **ONNX / QONNX** (``.onnx``) — binarized MLPs from FINN / Brevitas
  (:mod:`bdd4bnn.onnx_import`).
* **Compact ``.npz``** — bit-packed weights for large networks (:mod:`bdd4bnn.packed`).
* **BNNQuanalyst folders** — ``blk1 .. blkN/{lin_weight,lin_bias,bn_weight,bn_bias,bn_mean,
  bn_var}.csv`` and ``out_blk/{lin_weight,lin_bias}.csv``; their batch norm has no epsilon.

Every error is a :class:`~bdd4bnn.errors.Bdd4bnnError` whose message starts with the file name.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ModelError, one_line
from .files import IMAGE_MAX, MODEL_MAX, per_value, read_bytes, read_text
from .model import BINARY_LEVELS, BNN

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "load_model",
    "model_from_dict",
    "model_to_dict",
    "save_model",
    "load_input",
    "parse_input",
    "load_indices",
    "load_raw_image",
]

FORMAT_NAME = "bdd4bnn.bnn"
FORMAT_VERSION = 2  # version 2 adds "input" (the input quantizer) and levels; 1 still reads
VERSIONS = (1, 2)


def _check_metadata(meta: dict[str, Any]) -> None:
    """Check the metadata fields the tool reads (free-form fields stay free)."""
    for key in ("name", "source", "dataset"):
        if key in meta and not isinstance(meta[key], str):
            raise ModelError(f"metadata.{key}: expected a string, got {meta[key]!r:.40}")
    pre = meta.get("preprocessing")
    if pre is None:
        return
    if not isinstance(pre, dict):
        raise ModelError("metadata.preprocessing: expected an object")
    size, th = pre.get("size"), pre.get("threshold", 0.5)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 28:
        raise ModelError(
            f"metadata.preprocessing.size: expected an integer 1..28, got {size!r:.40}"
        )
    if isinstance(th, bool) or not isinstance(th, (int, float)) or not 0 <= th <= 1:
        raise ModelError(
            f"metadata.preprocessing.threshold: expected a number in [0, 1], got {th!r:.40}"
        )


def model_from_dict(data: Any) -> BNN:
    """Return the network described by a parsed JSON (version 1 or 2) document."""
    if not isinstance(data, dict):
        raise ModelError("top level: expected a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise ModelError(f"format: expected {FORMAT_NAME!r}, got {data.get('format')!r}")
    version = data.get("version")
    if isinstance(version, bool) or version not in VERSIONS:
        raise ModelError(f"version: unsupported version {version!r} (expected 1 or 2)")
    if version == 1 and "input" in data:
        raise ModelError("input: the input quantizer needs version 2")
    if version == 1 and ("input_levels" in data or _has_levels(data.get("blocks"))):
        raise ModelError("levels: multi-level networks need version 2")
    for key in ("input_size", "blocks", "output"):
        if key not in data:
            raise ModelError(f"{key}: missing field")
    if not isinstance(data["blocks"], list):
        raise ModelError("blocks: expected a list")
    meta = data.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ModelError("metadata: expected an object")
    _check_metadata(meta)
    return BNN.build(
        data["input_size"],
        data["blocks"],
        data["output"],
        meta,
        data.get("input"),
        data.get("input_levels"),
    )


def _has_levels(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(
        isinstance(b, dict) and ("levels" in b or "thresholds" in b) for b in blocks
    )


def model_to_dict(model: BNN) -> dict[str, Any]:
    """Return the JSON document of ``model``: version 2 when it has an input quantizer or
    levels, else version 1 (readable by older releases)."""
    blocks = []
    for b in model.blocks:
        if b.thresholds is not None:
            blocks.append(
                {
                    "weight": b.weight.tolist(),
                    "levels": list(b.levels),
                    "thresholds": b.thresholds.tolist(),
                }
            )
            continue
        spec: dict[str, Any] = {"weight": b.weight.tolist(), "bias": b.bias.tolist()}
        if b.bn is not None:
            spec["bn"] = {
                "gamma": b.bn.gamma.tolist(),
                "beta": b.bn.beta.tolist(),
                "mean": b.bn.mean.tolist(),
                "var": b.bn.var.tolist(),
                "eps": b.bn.eps,
            }
        blocks.append(spec)
    multi = model.input_levels != BINARY_LEVELS or any(
        b.thresholds is not None for b in model.blocks
    )
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION if model.quantizer is not None or multi else 1,
        "input_size": model.input_size,
        "blocks": blocks,
        "output": {"weight": model.output.weight.tolist(), "bias": model.output.bias.tolist()},
    }
    if model.input_levels != BINARY_LEVELS:
        doc["input_levels"] = list(model.input_levels)
    if model.quantizer is not None:
        doc["input"] = model.quantizer.to_dict()
    if model.metadata:
        doc["metadata"] = model.metadata
    return doc


def save_model(model: BNN, path: str | Path) -> None:
    """Write ``model`` as a JSON file (floats round-trip exactly), or as a compact bit-packed
    ``.npz`` model when ``path`` ends in ``.npz`` (:mod:`bdd4bnn.packed`)."""
    if Path(path).suffix.lower() == ".npz":
        from .packed import save_packed

        save_packed(model, path)
        return
    Path(path).write_text(json.dumps(model_to_dict(model)) + "\n")


def _read_csv(path: Path, matrix: bool) -> np.ndarray:
    if not path.exists():
        raise ModelError(f"{path}: missing file")
    text = read_text(path, MODEL_MAX, "CSV", ModelError)
    try:
        rows = [
            [float(v) for v in line.replace(";", ",").split(",") if v.strip()]
            for line in text.splitlines()
            if line.strip()
        ]
    except ValueError as exc:
        raise ModelError(f"{path}: not a numeric CSV ({exc})") from None
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ModelError(f"{path}: rows are empty or of different lengths")
    arr = np.array(rows, dtype=np.float64)
    if not matrix:
        return arr.reshape(-1)
    return arr


def _load_bnnquanalyst(folder: Path) -> BNN:
    def index(p: Path) -> int:
        return int(p.name[3:])

    blk_dirs = sorted(
        (p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"blk\d+", p.name)),
        key=index,
    )
    if not blk_dirs or not (folder / "out_blk").is_dir():
        raise ModelError(f"{folder}: not a model folder (expected blk1..blkN and out_blk)")
    if [index(p) for p in blk_dirs] != list(range(1, len(blk_dirs) + 1)):
        raise ModelError(f"{folder}: block folders must be blk1..blk{len(blk_dirs)}")
    blocks = []
    for d in blk_dirs:
        blocks.append(
            {
                "weight": _read_csv(d / "lin_weight.csv", True),
                "bias": _read_csv(d / "lin_bias.csv", False),
                "bn": {
                    "gamma": _read_csv(d / "bn_weight.csv", False),
                    "beta": _read_csv(d / "bn_bias.csv", False),
                    "mean": _read_csv(d / "bn_mean.csv", False),
                    "var": _read_csv(d / "bn_var.csv", False),
                    "eps": 0.0,
                },
            }
        )
    out = folder / "out_blk"
    output = {
        "weight": _read_csv(out / "lin_weight.csv", True),
        "bias": _read_csv(out / "lin_bias.csv", False),
    }
    size = int(blocks[0]["weight"].shape[1])
    return BNN.build(size, blocks, output, {"name": folder.name, "source": "bnnquanalyst"})


def load_model(path: str | Path) -> BNN:
    """Load a JSON model file or a BNNQuanalyst model folder."""
    p = Path(path)
    try:
        if p.is_dir():
            return _load_bnnquanalyst(p)
        if not p.exists():
            raise ModelError("no such file or folder")
        if p.suffix.lower() == ".onnx":
            from .onnx_import import load_onnx

            return load_onnx(p)
        if p.suffix.lower() == ".npz":
            from .packed import load_packed

            model = load_packed(p)
            model.metadata.setdefault("name", p.stem)
            return model
        text = read_text(p, MODEL_MAX, "model", ModelError)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
        except (ValueError, RecursionError) as exc:  # ints past 4300 digits, deep nesting
            raise ModelError(f"invalid JSON ({type(exc).__name__}: {exc})") from None
        model = model_from_dict(data)
        if "name" not in model.metadata:
            model.metadata["name"] = p.stem
        return model
    except ModelError as exc:
        msg = str(exc)
        if msg.startswith(str(p)):
            raise
        raise ModelError(f"{p}: {msg}") from None


def _read_text(path: str | Path, what: str, values: int) -> str:
    return read_text(path, per_value(values), what)


def _tokens(text: str, source: str) -> list[Any]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: invalid JSON array ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{source}: invalid JSON array ({type(exc).__name__})") from None
        if not isinstance(values, list):
            raise InputError(f"{source}: expected a JSON array")
        return values
    return [t for t in re.split(r"[\s,]+", stripped) if t]


def parse_input(values: Any, size: int, source: str = "input") -> np.ndarray:
    """Return a ±1 int8 vector from 0/1 or ±1 values (a list, or text, or a JSON array)."""
    if isinstance(values, str):
        values = _tokens(values, source)
    out = []
    for i, v in enumerate(values):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{source}: value {i} is {v!r}, expected 0/1 or -1/+1") from None
        if f not in (-1.0, 0.0, 1.0):
            raise InputError(f"{source}: value {i} is {v!r}, expected 0/1 or -1/+1")
        out.append(int(f))
    arr = np.array(out, dtype=np.int8)
    if (arr == 0).any() and (arr == -1).any():
        raise InputError(f"{source}: mixes 0 and -1; use 0/1 or -1/+1")
    if len(arr) != size:
        raise InputError(f"{source}: expected {size} values for this model, got {len(arr)}")
    return np.where(arr == 0, -1, arr).astype(np.int8)


def load_input(path: str | Path, size: int) -> np.ndarray:
    """Read an input file (whitespace/comma separated 0/1 or ±1, or a JSON array)."""
    return parse_input(_read_text(path, "input", size), size, str(path))


def load_indices(path: str | Path, size: int) -> list[int]:
    """Read a file of distinct 0-based pixel indices (whitespace/comma separated or JSON)."""
    source = str(path)
    out: list[int] = []
    for i, v in enumerate(_tokens(_read_text(path, "free-set", size), source)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{source}: entry {i} is {v!r}, expected an index") from None
        if not f.is_integer() or not 0 <= f < size:
            raise InputError(f"{source}: entry {i} is {v!r}, expected an index in 0..{size - 1}")
        out.append(int(f))
    if len(set(out)) != len(out):
        dup = next(v for v in out if out.count(v) > 1)
        raise InputError(f"{source}: index {dup} is listed twice")
    return sorted(out)


def load_raw_image(path: str | Path) -> np.ndarray:
    """Read a raw image as float64 values: ``.npy`` (numeric array), ``.png`` (8-bit grey
    levels 0..255, one channel), or text of whitespace/comma separated numbers."""
    p = Path(path)
    data = read_bytes(p, IMAGE_MAX, "image")
    try:
        suffix = p.suffix.lower()
        if suffix == ".npy":
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        elif suffix == ".png":
            from matplotlib.image import imread

            arr = np.asarray(imread(io.BytesIO(data), format="png"))
            if arr.ndim == 3 and arr.shape[2] == 1:
                arr = arr[:, :, 0]
            if arr.ndim != 2:
                raise InputError(f"{p}: expected one grey channel, got shape {arr.shape}")
            if arr.dtype.kind == "f":  # 8-bit PNGs read as levels / 255
                arr = np.round(arr.astype(np.float64) * 255)
        else:
            text = data.decode("utf-8")
            arr = np.array(re.split(r"[\s,]+", text.strip()), dtype=np.float64)
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # UnicodeDecodeError too
        raise InputError(f"{p}: cannot read image ({one_line(exc)})") from None
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{p}: expected numbers, got {arr.dtype}")
    out = np.asarray(arr, dtype=np.float64).reshape(-1)
    if not np.isfinite(out).all():
        raise InputError(f"{p}: image values must be finite")
    return out
