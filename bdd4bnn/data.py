"""MNIST: IDX loading with checksum verification, and preprocessing to binary inputs.

Preprocessing rule (recorded in a model's ``metadata["preprocessing"]``): the 28×28 image, as
intensities in [0, 1] (byte / 255), is downscaled to s×s by exact area averaging (each output
pixel is the mean of the input area it covers, fractional pixels weighted by overlap), then
binarized: +1 iff the averaged intensity is ≥ ``threshold``, else −1. Pixels are flattened
row by row.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "MNIST_FILES",
    "default_data_dir",
    "load_mnist",
    "preprocess",
    "preprocessing_spec",
    "DEFAULT_THRESHOLD",
    "SIZES",
    "accuracy",
    "input_text",
    "model_inputs",
    "raw_quantizer",
]

MNIST_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
CANONICAL_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
SIZES = (28, 20, 14, 10, 8, 7, 5, 4)
DEFAULT_THRESHOLD = 0.4


def default_data_dir() -> Path:
    """Return ``$BDD4BNN_MNIST``, else the repository's ``data/mnist``."""
    env = os.environ.get("BDD4BNN_MNIST")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "data" / "mnist"


def _read_idx(folder: Path, name: str) -> np.ndarray:
    for path, opener in ((folder / f"{name}.gz", gzip.open), (folder / name, open)):
        if path.is_file():
            try:
                with opener(path, "rb") as fh:
                    raw = fh.read()
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: cannot read ({exc})") from None
            break
    else:
        raise InputError(f"{folder / name}(.gz): missing MNIST file (see --data-dir)")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CANONICAL_SHA256[name]:
        raise InputError(f"{path}: corrupt MNIST file (SHA-256 {digest[:12]}... is not canonical)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _stamp(folder: Path, split: str) -> tuple:
    """Return the size and mtime of the split's files (so the cache sees any change)."""
    out = []
    for kind in ("images", "labels"):
        for p in (folder / f"{MNIST_FILES[(split, kind)]}.gz", folder / MNIST_FILES[(split, kind)]):
            st = p.stat() if p.is_file() else None
            out.append(None if st is None else (st.st_size, st.st_mtime_ns))
    return tuple(out)


@lru_cache(maxsize=4)
def _load(folder: str, split: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    path = Path(folder)
    images = _read_idx(path, MNIST_FILES[(split, "images")])
    labels = _read_idx(path, MNIST_FILES[(split, "labels")])
    return images, labels


def load_mnist(split: str = "test", data_dir: str | Path | None = None):
    """Return (images uint8 (N, 28, 28), labels uint8 (N,)) after checking the SHA-256."""
    if split not in ("train", "test"):
        raise InputError(f"split {split!r}: expected train or test")
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    return _load(str(folder), split, _stamp(folder, split))


def _area_matrix(src: int, dst: int) -> np.ndarray:
    """Return the (dst, src) matrix of exact area averaging from src to dst pixels."""
    m = np.zeros((dst, src))
    scale = src / dst
    for i in range(dst):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    return m / scale


def preprocess(images: np.ndarray, size: int, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Return ±1 inputs (int8, (N, size*size)) from uint8 images (N, 28, 28) by the rule above."""
    if not 1 <= size <= 28:
        raise InputError(f"size {size}: expected 1..28")
    x = np.asarray(images, dtype=np.float64) / 255.0
    a = _area_matrix(x.shape[-1], size)
    small = np.einsum("ij,njk,lk->nil", a, x, a)
    return np.where(small >= threshold, 1, -1).astype(np.int8).reshape(len(x), -1)


def preprocessing_spec(size: int, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Return the metadata record of the preprocessing rule."""
    return {"dataset": "mnist", "resize": "area", "size": size, "threshold": threshold}


def model_preprocessing(metadata: dict[str, Any]) -> tuple[int, float]:
    """Return (size, threshold) recorded in a model's metadata."""
    spec = metadata.get("preprocessing")
    if not isinstance(spec, dict) or "size" not in spec:
        raise InputError(
            "this model records no MNIST preprocessing (metadata.preprocessing) and no input "
            "quantizer"
        )
    return int(spec["size"]), float(spec.get("threshold", DEFAULT_THRESHOLD))


def raw_quantizer(size: int, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any] | None:
    """Return the input quantizer (a model's "input" section) equal to :func:`preprocess` at
    ``size``, ``threshold``, or None where preprocessing resizes (an averaged pixel is not one
    raw value): each raw value 0..255 run through :func:`preprocess` itself."""
    if size != 28:
        return None
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 28, axis=1)
    levels = np.repeat(levels, 28, axis=2)
    on = preprocess(levels, 28, threshold)[:, 0] > 0
    return {
        "raw": "uint8",
        "low": 0,
        "high": 255,
        "threshold": int(np.argmax(on)) if on.any() else 256,
    }


def model_inputs(model: Any, images: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ±1 inputs (int8, (N, input size)) from uint8 images (N, 28, 28) by the model's
    own rule, and the input side: its input quantizer (per-pixel raw thresholds, no resizing)
    when it has one, else the preprocessing recorded in its metadata."""
    if model.quantizer is not None:
        side = int(np.sqrt(model.input_size))
        pixels = int(np.prod(images.shape[1:]))
        if pixels != model.input_size:
            raise InputError(
                f"images of {pixels} pixels: the model reads {model.input_size} raw values"
            )
        return model.quantizer.quantize(images), side
    size, th = model_preprocessing(model.metadata)
    return preprocess(images, size, th), size


def accuracy(model: Any, split: str = "test", data_dir: str | Path | None = None) -> dict:
    """Return the model's MNIST accuracy with its own preprocessing: ``accuracy``, ``n``,
    ``correct``, ``per_class_accuracy``, ``seconds`` (the inference)."""
    import time

    from .semantics import classify

    images, labels = load_mnist(split, data_dir)
    x, _ = model_inputs(model, images)
    t0 = time.perf_counter()
    pred = classify(model, x)
    right = pred == labels
    return {
        "split": split,
        "accuracy": float(right.mean()),
        "n": int(len(labels)),
        "correct": int(right.sum()),
        "per_class_accuracy": [float((pred[labels == c] == c).mean()) for c in range(10)],
        "seconds": time.perf_counter() - t0,
    }


def input_text(x: np.ndarray, size: int) -> str:
    """Return ±1 input ``x`` (``size``² values) as an input file: 0/1, one image row a line."""
    rows = np.asarray(x).reshape(size, size)
    return "\n".join(" ".join("1" if v > 0 else "0" for v in row) for row in rows) + "\n"
