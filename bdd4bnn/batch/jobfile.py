"""Job files (TOML) and their expansion into tasks.

A job is models × inputs × regions × analyses, with one engine and per-task limits::

    name = "mnist-robustness"
    models = ["../models/mnist_10x10_100-50-20-10.json"]   # JSON files or BNNQuanalyst folders
    inputs = ["digit.txt"]          # input files, and/or
    mnist_test = [0, 1, 2]          # MNIST test images, with each model's preprocessing
    radii = [1, 2, 3]               # Hamming balls
    free_sets = ["free10.txt"]      # fixed-index regions (all of the set may flip)...
    free_radius = 2                 # ...or at most this many of them
    linf = [4, 16]                  # L∞ balls of raw levels around mnist_test images
                                    # (models with an input quantizer)
    analyses = ["count", "verify", "radius", "explain"]   # and "faults": weight bit errors
    ber = [1e-4, 1e-3]              # faults: bit error rates (one task per input and rate)
    flips = 3                       # faults: also the fewest flips up to this many (optional)
    width = 1e-6                    # faults: narrow each interval to this width (default 1e-6)
    engine = "auto"                 # or a table per analysis: {count = "bdd", verify = "sat"}
    time_limit = 60                 # seconds per task
    node_limit = 2000000            # live BDD nodes per task
    radius_max = 10                 # largest radius the "radius" analysis tries

Paths are relative to the job file. ``count``, ``verify`` and ``explain`` run once per region;
``radius`` once per model and input. Every error names the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engines import Capability, names
from ..errors import Bdd4bnnError
from ..files import JOB_MAX, read_text
from ..formats import load_indices, load_input, load_model, model_to_dict

__all__ = ["Job", "JobError", "Task", "load_job", "ANALYSES"]

ANALYSES = ("count", "verify", "radius", "explain", "faults")
ENGINES = {
    "count": names(Capability.COUNT),
    "verify": names(Capability.FIND),
    "radius": names(Capability.FIND),
    "explain": names(Capability.FIND),
    "faults": ("auto",),  # its own exact method (bdd4bnn.analyses.faults)
}
KEYS = {
    "name",
    "models",
    "inputs",
    "mnist_test",
    "radii",
    "free_sets",
    "free_radius",
    "linf",
    "analyses",
    "engine",
    "time_limit",
    "node_limit",
    "radius_max",
    "data_dir",
    "ber",
    "flips",
    "width",
}


class JobError(Bdd4bnnError):
    """A job file is malformed."""


@dataclass(frozen=True)
class Task:
    """One analysis of one model on one input and region (plain data: crosses processes)."""

    key: str
    model_name: str
    model_doc: dict[str, Any] = field(repr=False)
    input_name: str
    center: list[int] = field(repr=False)
    # {"kind": "hamming", "radius"} / {"kind": "fixed", ...} / {"kind": "linf", "epsilon", "raw"}
    region: dict[str, Any] | None
    analysis: str
    engine: str
    time_limit: float | None
    node_limit: int | None
    radius_max: int | None

    def describe_region(self) -> str:
        if self.region is None:
            return "-"
        if self.region["kind"] == "hamming":
            return f"r={self.region['radius']}"
        if self.region["kind"] == "linf":
            return f"linf={self.region['epsilon']:g}"
        if self.region["kind"] == "faults":
            return f"ber={self.region['ber']:g}"
        r = self.region.get("radius")
        return f"free {self.region['name']}" + ("" if r is None else f" r={r}")


@dataclass
class Job:
    name: str
    path: Path
    tasks: list[Task]


def _list(doc: dict, key: str, kind: Any, path: Path) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    ):
        what = "number" if kind == (int, float) else kind.__name__
        raise JobError(f"{path}: {key}: expected a list of {what}")
    return value


def _number(doc: dict, key: str, path: Path, kind=(int, float), top: float = 1e9) -> Any:
    """Return the positive finite number ``doc[key]`` (None when absent): TOML's ``nan`` and
    ``inf``, strings, booleans and values past ``top`` are errors naming the key."""
    value = doc.get(key)
    if value is None:
        return None
    what = "an integer" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, kind):
        raise JobError(f"{path}: {key}: expected {what}, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= top):
        raise JobError(f"{path}: {key}: expected {what} in (0, {top:g}], got {value!r}")
    return value


def model_digest(model_doc: dict) -> str:
    """Return a stable SHA-256 of a model's content (computed once per model: serialising a
    784-100-10 model takes about 10 ms, too long to repeat for every task)."""
    blob = json.dumps(model_doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def task_key(
    model_sha: str, center: list[int], region: Any, analysis: str, engine: str, limits: tuple
) -> str:
    """Return a stable SHA-256 of the task's content (model content by its
    :func:`model_digest`, not its path)."""
    blob = json.dumps(
        {
            "model": model_sha,
            "input": center,
            "region": region,
            "analysis": analysis,
            "engine": engine,
            "limits": limits,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def load_job(path: str | Path) -> Job:
    """Parse, validate and expand a job file (one-line errors naming the field)."""
    path = Path(path)
    text = read_text(path, JOB_MAX, "job", JobError)
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise JobError(f"{path}: invalid TOML ({exc})") from None
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        raise JobError(f"{path}: {unknown[0]}: unknown field (expected one of {sorted(KEYS)})")
    base = path.parent
    models = _list(doc, "models", str, path)
    if not models:
        raise JobError(f"{path}: models: at least one model is needed")
    inputs = _list(doc, "inputs", str, path)
    mnist = _list(doc, "mnist_test", int, path)
    if not inputs and not mnist:
        raise JobError(f"{path}: inputs: give input files or mnist_test indices")
    radii = _list(doc, "radii", int, path)
    if any(r < 0 for r in radii):
        raise JobError(f"{path}: radii: radii must be >= 0")
    free_sets = _list(doc, "free_sets", str, path)
    linf = _list(doc, "linf", int, path)
    if any(not 0 <= e <= 255 for e in linf):
        raise JobError(f"{path}: linf: radii are raw levels 0..255")
    if linf and not mnist:
        raise JobError(f"{path}: linf: L∞ balls need raw images (mnist_test indices)")
    analyses = _list(doc, "analyses", str, path) or ["count"]
    for a in analyses:
        if a not in ANALYSES:
            raise JobError(f"{path}: analyses: unknown analysis {a!r} (expected {ANALYSES})")
    regional = [a for a in analyses if a not in ("radius", "faults")]
    if regional and not radii and not free_sets and not linf:
        raise JobError(f"{path}: radii: count, verify and explain need radii, free_sets or linf")
    bers = _list(doc, "ber", (int, float), path)
    if any(not (math.isfinite(b) and 0 <= b <= 1) for b in bers):
        raise JobError(f"{path}: ber: bit error rates must be numbers in [0, 1]")
    if ("faults" in analyses) != bool(bers):
        raise JobError(f"{path}: ber: the faults analysis needs ber (and ber needs it)")
    flips = doc.get("flips", 0)
    if isinstance(flips, bool) or not isinstance(flips, int) or not 0 <= flips <= 64:
        raise JobError(f"{path}: flips: expected an integer 0..64, got {flips!r}")
    width = _number(doc, "width", path, top=1.0)
    if width is not None and "faults" not in analyses:
        raise JobError(f"{path}: width: only the faults analysis takes a width")
    engine = doc.get("engine", "auto")
    if isinstance(engine, dict):
        extra = sorted(set(engine) - set(ANALYSES))
        if extra:
            raise JobError(f"{path}: engine.{extra[0]}: unknown analysis (expected {ANALYSES})")
    elif not isinstance(engine, str):
        raise JobError(f"{path}: engine: expected a name or a table per analysis")
    engines = {}
    for a in analyses:
        e = engine.get(a, "auto") if isinstance(engine, dict) else engine
        if e not in ENGINES[a]:
            raise JobError(f"{path}: engine: {e!r} cannot run {a} (choose from {ENGINES[a]})")
        engines[a] = e
    time_limit = _number(doc, "time_limit", path, top=7 * 86400)
    node_limit = _number(doc, "node_limit", path, int, top=2**40)
    radius_max = _number(doc, "radius_max", path, int, top=2**31)
    data_dir = doc.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise JobError(f"{path}: data_dir: expected a folder path (a string)")
    free_radius = doc.get("free_radius")
    if free_radius is not None and (
        isinstance(free_radius, bool) or not isinstance(free_radius, int) or free_radius < 0
    ):
        raise JobError(f"{path}: free_radius: expected an integer >= 0")
    name = doc.get("name", path.stem)
    if not isinstance(name, str):
        raise JobError(f"{path}: name: expected a string")

    tasks: list[Task] = []
    limits = (time_limit, node_limit, radius_max)
    for mpath in models:
        try:
            model = load_model(base / mpath)
        except Bdd4bnnError as exc:
            raise JobError(f"{path}: models: {exc}") from None
        mdoc = model_to_dict(model)
        msha = model_digest(mdoc)
        mname = str(model.metadata.get("name", Path(mpath).stem))
        centers: list[tuple[str, list[int]]] = []
        raws: dict[str, list[int]] = {}  # raw images of the mnist_test centres (L∞ balls)
        truth: dict[str, int] = {}  # their true classes (fault tasks report accuracy)
        for ipath in inputs:
            try:
                centers.append(
                    (Path(ipath).name, load_input(base / ipath, model.input_size).tolist())
                )
            except Bdd4bnnError as exc:
                raise JobError(f"{path}: inputs: {exc}") from None
        if mnist:
            from ..data import load_mnist, model_inputs

            try:
                images, test_labels = load_mnist("test", data_dir)
            except Bdd4bnnError as exc:
                raise JobError(f"{path}: mnist_test: {mname}: {exc}") from None
            for i in mnist:
                if not 0 <= i < len(images):
                    raise JobError(f"{path}: mnist_test: index {i} out of range")
            try:
                xs, size = model_inputs(model, images[list(mnist)])
            except Bdd4bnnError as exc:
                raise JobError(f"{path}: mnist_test: {mname}: {exc}") from None
            if xs.shape[1] != model.input_size:
                raise JobError(f"{path}: mnist_test: {mname} records size {size}")
            centers += [(f"mnist-test-{i}", x.tolist()) for i, x in zip(mnist, xs, strict=True)]
            if linf and model.quantizer is None:
                raise JobError(
                    f"{path}: linf: model {mname} has no input quantizer (L∞ balls need one)"
                )
            raws = {f"mnist-test-{i}": images[i].ravel().tolist() for i in mnist}
            truth = {f"mnist-test-{i}": int(test_labels[i]) for i in mnist}
        if radius_max is not None and "radius" in analyses and radius_max > model.input_size:
            raise JobError(
                f"{path}: radius_max: {radius_max} > input size {model.input_size} of {mname}"
            )
        regions: list[dict[str, Any]] = []
        for r in radii:
            if r > model.input_size:
                raise JobError(f"{path}: radii: {r} > input size {model.input_size}")
            regions.append({"kind": "hamming", "radius": r})
        for fpath in free_sets:
            try:
                free = load_indices(base / fpath, model.input_size)
            except Bdd4bnnError as exc:
                raise JobError(f"{path}: free_sets: {exc}") from None
            if free_radius is not None and free_radius > len(free):
                raise JobError(f"{path}: free_radius: {free_radius} > {len(free)} free pixels")
            regions.append(
                {"kind": "fixed", "name": Path(fpath).stem, "free": free, "radius": free_radius}
            )
        for iname, center in centers:
            own = (
                []
                if iname not in raws
                else [{"kind": "linf", "epsilon": e, "raw": raws[iname]} for e in linf]
            )
            faults = [
                {"kind": "faults", "ber": float(b), "flips": flips, "true": truth.get(iname)}
                | ({} if width is None else {"width": float(width)})
                for b in bers
            ]
            for a in analyses:
                per = {"radius": [None], "faults": faults}
                for region in per.get(a, regions + own):
                    key = task_key(msha, center, region, a, engines[a], limits)
                    tasks.append(
                        Task(
                            key,
                            mname,
                            mdoc,
                            iname,
                            center,
                            region,
                            a,
                            engines[a],
                            time_limit,
                            node_limit,
                            radius_max,
                        )
                    )
    seen: set[str] = set()
    unique = [t for t in tasks if not (t.key in seen or seen.add(t.key))]
    return Job(name, path, unique)
