"""Import binarized MLPs from ONNX / QONNX graphs (FINN, Brevitas), exactly.

A graph is read as a chain from its one input to its one output:

* **input stage**: ``Reshape`` / ``Flatten`` and elementwise ``Mul``, ``Div``, ``Add``,
  ``Sub`` by constants, ending at the first activation quantizer;
* **blocks**: a quantizer (``BipolarQuant``: +scale where x ≥ 0, else −scale; or ONNX
  ``Sign``, whose sign(0) = 0 a BNN cannot represent: a graph where a reachable value is
  exactly 0 is refused), ``MatMul`` or ``Gemm`` with a constant weight matrix that is binary
  (after its own ``BipolarQuant``, or ±1 constants), then any elementwise chain
  (``BatchNormalization``, or its unfused Sub/Div/Mul/Add form, ``Add`` of a bias), up to the
  next quantizer;
* **multi-level quantizers**: a QONNX ``Quant`` (signed or unsigned, narrow or not, any
  rounding mode, a constant power-of-two scale, an integer zero point, bit width ≤ 4) on the
  input, on activations or on weights makes the network multi-level: its levels are the
  quantizer's integers (k − zero point) and each neuron gets one integer threshold per level
  step (:class:`bdd4bnn.model.Block` thresholds), found as below with qonnx's own ``quant``
  function applied to the chain's float32 values;
* FINN's ``MultiThreshold`` (per-channel or shared sorted thresholds, power-of-two
  ``out_scale``, ``out_bias`` a multiple of it) likewise, with qonnx's ``multithreshold``;
* **output**: a last ``MatMul`` / ``Gemm`` and an elementwise chain (FINN's scalar
  "TensorNorm") whose float32 values must be the same strictly increasing function of the dot
  for every class (a per-class scale or shift changes the argmax: refused).

**Exactness.** Every elementwise chain is evaluated by onnxruntime on the graph's own nodes, in
float32, at *every reachable integer dot* (−n, −n + 2, …, n for fan-in n, times the
quantizers' scales, whose products must be powers of two so that the float32 ``MatMul`` is
exact in any summation order). A neuron's ±1 output as a function of its dot must be a step
(a non-monotone neuron is an error); its step is the neuron's integer threshold, stored as
``bias = −t`` (dot ≥ t) or, for a falling step, with the weight row negated. The input stage
is evaluated the same way at every raw value of the declared raw range (uint8: the graph is
fed ``raw / 255`` in float32, as FINN's data loaders do), giving each pixel's raw threshold.
Graph cleanup (constant folding, shape inference) is qonnx's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .files import MODEL_MAX, read_bytes
from .model import BNN
from .semantics import tabulated_thresholds

__all__ = ["load_onnx", "ELEMENTWISE", "RAW_LEVELS"]

ELEMENTWISE = ("Mul", "Div", "Add", "Sub", "BatchNormalization")
QUANTIZERS = ("BipolarQuant", "Sign", "Quant", "MultiThreshold")
MAX_BITS = 4
LINEAR = ("MatMul", "Gemm")
SHAPE_OPS = ("Reshape", "Flatten", "Identity")
RAW_LEVELS = 256  # uint8 raw pixels, fed to the graph as raw / 255


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModelError(
            f"reading ONNX models needs the '{module.split('.')[0]}' package: "
            "pip install -c constraints.txt -e '.[onnx]'"
        ) from None


class _Graph:
    """The cleaned-up graph: nodes by the tensor they consume, constants by name."""

    def __init__(self, path: Path) -> None:
        onnx = _need("onnx")
        _need("qonnx")
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.util.cleanup import cleanup_model

        data = read_bytes(path, MODEL_MAX, "ONNX", ModelError)
        try:
            proto = onnx.load_model_from_string(data)
        except Exception as exc:  # protobuf raises its own DecodeError and others
            raise ModelError(f"not a readable ONNX file ({type(exc).__name__})") from None
        if not proto.graph.node:
            raise ModelError("not a readable ONNX file (no graph nodes)")
        try:
            self.model = cleanup_model(ModelWrapper(proto))
        except Exception as exc:
            raise ModelError(f"qonnx could not clean up the graph ({exc})") from None
        g = self.model.graph
        inputs = [i for i in g.input if self.model.get_initializer(i.name) is None]
        if len(inputs) != 1 or len(g.output) != 1:
            raise ModelError(
                f"expected one graph input and one output, got {len(inputs)} and {len(g.output)}"
            )
        self.input = inputs[0].name
        self.output = g.output[0].name
        self.consumers: dict[str, list[Any]] = {}
        for n in g.node:
            for t in n.input:
                self.consumers.setdefault(t, []).append(n)

    def const(self, name: str) -> np.ndarray | None:
        v = self.model.get_initializer(name)
        return None if v is None else np.asarray(v)

    def next_node(self, tensor: str) -> Any | None:
        users = self.consumers.get(tensor, [])
        if len(users) > 1:
            raise ModelError(f"tensor {tensor!r} feeds {len(users)} nodes: not a chain")
        return users[0] if users else None

    def shape_of(self, tensor: str) -> list[int] | None:
        return self.model.get_tensor_shape(tensor)


def _label(node: Any) -> str:
    return f"node {node.name or node.output[0]!r} ({node.op_type})"


def _run_chain(graph: _Graph, nodes: list[Any], source: str, values: np.ndarray) -> np.ndarray:
    """Run ``nodes`` (an elementwise chain reading ``source``) in onnxruntime on ``values``
    (float32, shape (rows, width)); return the last node's output."""
    onnx = _need("onnx")
    ort = _need("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    if not nodes:
        return values.astype(np.float32)
    inits = []
    for n in nodes:
        for t in n.input:
            v = graph.const(t)
            if v is not None:
                inits.append(numpy_helper.from_array(v, t))
    width = values.shape[1]
    g = helper.make_graph(
        [helper.make_node(n.op_type, list(n.input), list(n.output), **_attrs(n)) for n in nodes],
        "chain",
        [helper.make_tensor_value_info(source, TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [None, width])],
        inits,
    )
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {source: values.astype(np.float32)})
    return np.broadcast_to(np.asarray(out, dtype=np.float32), values.shape)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "BatchNormalization":
        out.pop("training_mode", None)
    return out


def _quant_scale(graph: _Graph, node: Any) -> float:
    """Return the positive power-of-two scalar scale of an activation quantizer."""
    if node.op_type == "Sign":
        return 1.0
    s = graph.const(node.input[1])
    if s is None or s.size != 1:
        raise ModelError(f"{_label(node)}: expected a constant scalar scale")
    return _power_of_two(float(s.ravel()[0]), node)


class _Act:
    """An activation quantizer: integer ``levels`` times ``scale``; ``index(y)`` gives the
    level index of float32 values ``y``."""

    def __init__(self, graph: _Graph, node: Any) -> None:
        self.node = node
        self.thresholds: np.ndarray | None = None
        if node.op_type == "MultiThreshold":
            self.levels, self.scale, self.thresholds = _multithreshold_spec(graph, node)
            self.args: tuple[Any, ...] = ()
            return
        if node.op_type != "Quant":
            self.levels = (-1, 1)
            self.scale = _quant_scale(graph, node)
            self.args = ()
            return
        self.levels, self.scale, self.args = _quant_spec(graph, node)

    def index(self, y: np.ndarray) -> np.ndarray:
        if self.thresholds is not None:
            from qonnx.custom_op.general.multithreshold import multithreshold

            th = self.thresholds
            if th.shape[0] not in (1, np.shape(y)[1]):
                raise ModelError(
                    f"{_label(self.node)}: {th.shape[0]} threshold rows for "
                    f"{np.shape(y)[1]} channels"
                )
            k = multithreshold(np.asarray(y, dtype=np.float32), th)
            return np.rint(np.asarray(k, dtype=np.float64)).astype(np.int64)
        if not self.args:
            return (np.asarray(y) >= 0).astype(np.int64)
        from qonnx.custom_op.general.quant import quant

        q = quant(np.asarray(y, dtype=np.float32), *self.args)
        return (
            np.rint(np.asarray(q, dtype=np.float64) / self.scale).astype(np.int64) - self.levels[0]
        )


def _scalar(graph: _Graph, node: Any, i: int, what: str) -> float:
    v = graph.const(node.input[i]) if len(node.input) > i else None
    if v is None or v.size != 1:
        raise ModelError(f"{_label(node)}: expected a constant scalar {what}")
    return float(v.ravel()[0])


def _multithreshold_spec(graph: _Graph, node: Any) -> tuple[tuple[int, ...], float, np.ndarray]:
    """Return (levels, scale, thresholds) of a FINN ``MultiThreshold`` node: level k is
    out_bias + out_scale·k for k thresholds at or below the value."""
    th = graph.const(node.input[1]) if len(node.input) > 1 else None
    if th is None or th.ndim != 2 or th.shape[1] < 1:
        raise ModelError(f"{_label(node)}: expected a constant threshold matrix (channels, steps)")
    if th.shape[1] > 15:
        raise ModelError(f"{_label(node)}: {th.shape[1] + 1} levels (at most 16)")
    a = _attrs(node)
    scale = _power_of_two(float(a.get("out_scale", 1.0)), node)
    bias = float(a.get("out_bias", 0.0)) / scale
    if bias != int(bias):
        raise ModelError(f"{_label(node)}: out_bias is not an integer multiple of out_scale")
    levels = tuple(int(bias) + k for k in range(th.shape[1] + 1))
    return levels, scale, np.asarray(th, dtype=np.float32)


def _quant_spec(graph: _Graph, node: Any) -> tuple[tuple[int, ...], float, tuple[Any, ...]]:
    """Return (levels, scale, qonnx quant arguments) of a ``Quant`` node, or a one-line error."""
    if len(node.input) < 4:
        raise ModelError(f"{_label(node)}: expected inputs x, scale, zero point, bit width")
    scale = _power_of_two(_scalar(graph, node, 1, "scale"), node)
    zero = _scalar(graph, node, 2, "zero point")
    bits = _scalar(graph, node, 3, "bit width")
    if bits != int(bits) or not 1 < bits <= MAX_BITS:
        raise ModelError(
            f"{_label(node)}: bit width {bits:g} is not supported (integers 2..{MAX_BITS})"
        )
    if zero != int(zero):
        raise ModelError(f"{_label(node)}: zero point {zero!r} is not an integer")
    a = _attrs(node)
    signed, narrow = int(a.get("signed", 1)), int(a.get("narrow", 0))
    mode = a.get("rounding_mode", "ROUND")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    from qonnx.custom_op.general.quant import resolve_rounding_mode

    try:
        resolve_rounding_mode(mode)
    except ValueError:
        raise ModelError(f"{_label(node)}: rounding mode {mode!r} is not supported") from None
    b = int(bits)
    lo, hi = (-(2 ** (b - 1)) + narrow, 2 ** (b - 1) - 1) if signed else (0, 2**b - 1 - narrow)
    levels = tuple(k - int(zero) for k in range(lo, hi + 1))
    return levels, scale, (np.float32(scale), np.float32(zero), np.float32(b), signed, narrow, mode)


def _power_of_two(s: float, node: Any) -> float:
    m, _ = np.frexp(s)
    if not (s > 0 and m == 0.5):
        raise ModelError(
            f"{_label(node)}: scale {s!r} is not a positive power of two (the float32 dot "
            "would depend on the summation order)"
        )
    return s


def _binary_weight(graph: _Graph, tensor: str, node: Any) -> tuple[np.ndarray, float]:
    """Return the integer weight matrix (in, out) behind ``tensor`` (±1, or a ``Quant``'s
    levels) and its scale."""
    w = graph.const(tensor)
    if w is not None:
        vals = np.unique(w)
        s = float(np.abs(vals).max()) if vals.size else 1.0
        if not set(vals.tolist()) <= {-s, s}:
            raise ModelError(f"{_label(node)}: weights are not binary (values {vals[:4]} ...)")
        return np.where(w > 0, 1, -1).astype(np.int8), _power_of_two(s, node)
    producer = next((n for n in graph.model.graph.node if tensor in n.output), None)
    if producer is not None and producer.op_type == "Quant":
        raw = graph.const(producer.input[0])
        if raw is None:
            raise ModelError(f"{_label(producer)}: expected constant weights")
        act = _Act(graph, producer)
        return np.asarray(act.levels)[act.index(raw)].astype(np.int8), act.scale
    if producer is None or producer.op_type not in ("BipolarQuant", "Sign"):
        op = "none" if producer is None else producer.op_type
        raise ModelError(f"{_label(node)}: weight is not a binarized constant (made by {op})")
    raw = graph.const(producer.input[0])
    if raw is None:
        raise ModelError(f"{_label(producer)}: expected constant weights")
    if producer.op_type == "Sign" and (raw == 0).any():
        raise ModelError(f"{_label(producer)}: a weight is exactly 0 (ONNX Sign gives 0)")
    scale = _quant_scale(graph, producer)
    return np.where(raw >= 0, 1, -1).astype(np.int8), scale


def _linear(graph: _Graph, node: Any, source: str) -> tuple[np.ndarray, float]:
    """Return the (in, out) ±1 weights and scale of a MatMul / Gemm reading ``source``."""
    if node.input[0] != source:
        raise ModelError(f"{_label(node)}: expected the activations as its first input")
    w, scale = _binary_weight(graph, node.input[1], node)
    if node.op_type == "Gemm":
        a = _attrs(node)
        if a.get("transA", 0):
            raise ModelError(f"{_label(node)}: transA is not supported")
        if a.get("transB", 0):
            w = w.T
        alpha = float(a.get("alpha", 1.0))
        scale *= _power_of_two(alpha, node)
        if len(node.input) > 2:
            raise ModelError(f"{_label(node)}: a Gemm bias is not supported; use Add after it")
    if w.ndim != 2:
        raise ModelError(f"{_label(node)}: expected a weight matrix, got shape {w.shape}")
    return w, scale


def _chain(graph: _Graph, tensor: str) -> tuple[list[Any], Any | None, str]:
    """Follow elementwise nodes from ``tensor``; return (nodes, the node after them, the last
    tensor)."""
    nodes = []
    node = graph.next_node(tensor)
    while node is not None and node.op_type in ELEMENTWISE + SHAPE_OPS:
        if node.op_type in SHAPE_OPS:
            if nodes:
                raise ModelError(f"{_label(node)}: a reshape between elementwise nodes")
        else:
            for t in node.input[1:]:
                if graph.const(t) is None:
                    raise ModelError(f"{_label(node)}: expected constant operands")
            nodes.append(node)
        tensor = node.output[0]
        node = graph.next_node(tensor)
    return nodes, node, tensor


def _steps(bits: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (rising, t) per column of ``bits`` (rows: increasing inputs): the column is
    true from row t on (rising; t = 0: always, t = rows: never) or before row t (falling).
    A column that changes more than once is an error."""
    rows, cols = bits.shape
    changed = bits[1:] != bits[:-1]
    many = np.flatnonzero(changed.sum(axis=0) > 1)
    if many.size:
        raise ModelError(f"{where} {many[0]}: not monotone in its input (a non-step output)")
    first = np.where(changed.any(axis=0), changed.argmax(axis=0) + 1, 0)
    rising = ~bits[0] | (first == 0)  # constant columns count as rising
    t = np.where(first > 0, first, np.where(bits[0], 0, rows)).astype(np.int64)
    return rising, t


def _block(
    graph: _Graph, w: np.ndarray, scale: float, nodes: list[Any], source: str, quant: Any, b: int
) -> dict[str, Any]:
    """Return the block spec (integer thresholds as biases) of a hidden layer."""
    n_in, n_out = w.shape
    dots = np.arange(-n_in, n_in + 1, 2, dtype=np.float64)
    vals = np.repeat((dots * scale)[:, None], n_out, axis=1).astype(np.float32)
    if not np.array_equal(vals.astype(np.float64), np.repeat((dots * scale)[:, None], n_out, 1)):
        raise ModelError(f"block {b}: scaled dots are not exact in float32")
    y = _run_chain(graph, nodes, nodes[0].input[0] if nodes else source, vals)
    if quant.op_type == "Sign" and (y == 0).any():
        j = int(np.argwhere(y == 0)[0][1])
        raise ModelError(
            f"block {b} neuron {j}: a reachable value is exactly 0, where ONNX "
            "Sign gives 0 (not ±1)"
        )
    bits = y >= 0
    rising, t = _steps(bits, f"block {b} neuron")
    weight = w.T.astype(np.int8).copy()
    bias = np.zeros(n_out)
    for j in range(n_out):
        if rising[j]:  # +1 iff dot >= dots[t] (t = rows: never)
            bias[j] = -(dots[t[j]] if t[j] < len(dots) else n_in + 1)
        else:  # +1 iff dot <= dots[t - 1]  <=>  -dot >= -dots[t - 1]
            weight[j] = -weight[j]
            bias[j] = dots[t[j] - 1]
    return {"weight": weight, "bias": bias + 0.0}  # no −0.0


def _multi_block(
    graph: _Graph,
    w: np.ndarray,
    scale: float,
    nodes: list[Any],
    source: str,
    act: _Act,
    b: int,
    levels_in: tuple[int, ...],
) -> dict[str, Any]:
    """Return the multi-threshold block spec of a hidden layer: the chain and the quantizer
    evaluated at every integer dot the inputs' levels can reach."""
    n_out = w.shape[1]
    top = int(np.abs(w.astype(np.int64)).sum(axis=0).max()) * max(abs(v) for v in levels_in)
    dots = np.arange(-top, top + 1, dtype=np.float64)
    vals = np.repeat((dots * scale)[:, None], n_out, axis=1).astype(np.float32)
    if not np.array_equal(vals.astype(np.float64), np.repeat((dots * scale)[:, None], n_out, 1)):
        raise ModelError(f"block {b}: scaled dots are not exact in float32")
    y = _run_chain(graph, nodes, nodes[0].input[0] if nodes else source, vals)
    where = f"block {b} neuron"
    rising, thresholds = tabulated_thresholds(dots, act.index(y), len(act.levels), where)
    weight = w.T.astype(np.int8).copy()
    weight[~rising] = -weight[~rising]
    return {"weight": weight, "levels": list(act.levels), "thresholds": thresholds}


def _multi_input(graph: _Graph, nodes: list[Any], source: str, size: int, act: _Act) -> Any:
    """Return each pixel's raw thresholds (size, levels − 1): the pixel reaches level m from
    the m-th on (256: never)."""
    raw = np.arange(RAW_LEVELS, dtype=np.float32)
    x = np.repeat((raw / np.float32(255))[:, None], size, axis=1).astype(np.float32)
    y = _run_chain(graph, nodes, nodes[0].input[0] if nodes else source, x)
    raws = np.arange(RAW_LEVELS)
    rising, first = tabulated_thresholds(raws, act.index(y), len(act.levels), "input pixel")
    bad = np.flatnonzero(~rising)
    if bad.size:
        raise ModelError(f"input pixel {bad[0]}: a falling input quantizer is not supported")
    return first.tolist()


def _input_stage(graph: _Graph, nodes: list[Any], source: str, size: int) -> np.ndarray:
    """Return each pixel's raw threshold: the pixel is +1 iff raw ≥ it (256: never)."""
    raw = np.arange(RAW_LEVELS, dtype=np.float32)
    x = np.repeat((raw / np.float32(255))[:, None], size, axis=1).astype(np.float32)
    y = _run_chain(graph, nodes, nodes[0].input[0] if nodes else source, x)
    rising, t = _steps(y >= 0, "input pixel")
    bad = np.flatnonzero(~rising)
    if bad.size:
        raise ModelError(
            f"input pixel {bad[0]}: +1 for dark values, -1 for bright ones "
            "(a falling input quantizer is not supported)"
        )
    return t


def load_onnx(path: str | Path) -> BNN:
    """Return the BNN of an ONNX / QONNX binarized MLP (module docstring), with its input
    quantizer."""
    p = Path(path)
    graph = _Graph(p)
    shape = graph.shape_of(graph.input) or []
    size = int(np.prod([d for d in shape[1:] if d])) if len(shape) > 1 else 0
    if size <= 0:
        raise ModelError(f"input {graph.input!r}: unknown shape {shape}")
    pre, node, tensor = _chain(graph, graph.input)
    if node is None or node.op_type not in QUANTIZERS:
        what = "the end of the graph" if node is None else _label(node)
        raise ModelError(f"{what}: expected an input quantizer (BipolarQuant or Sign) first")
    multi = any(n.op_type in ("Quant", "MultiThreshold") for n in graph.model.graph.node)
    if node.op_type == "Sign":
        raise ModelError(f"{_label(node)}: Sign on raw inputs can give 0; use BipolarQuant")
    act = _Act(graph, node)
    input_levels = act.levels
    if multi:
        raw_thresholds: Any = _multi_input(graph, pre, graph.input, size, act)
        if len(input_levels) == 2:  # one threshold per pixel: the quantizer's flat form
            raw_thresholds = [t[0] for t in raw_thresholds]
    else:
        raw_thresholds = _input_stage(graph, pre, graph.input, size)
    in_scale, levels = act.scale, act.levels
    blocks: list[dict[str, Any]] = []
    tensor = node.output[0]
    width = size
    while True:
        node = graph.next_node(tensor)
        while node is not None and node.op_type in SHAPE_OPS:
            tensor, node = node.output[0], graph.next_node(node.output[0])
        if node is None or node.op_type not in LINEAR:
            what = "the end of the graph" if node is None else _label(node)
            raise ModelError(f"{what}: expected MatMul or Gemm after an activation quantizer")
        w, w_scale = _linear(graph, node, tensor)
        if w.shape[0] != width:
            raise ModelError(f"{_label(node)}: expected {width} inputs, got {w.shape[0]}")
        chain, after, end = _chain(graph, node.output[0])
        scale = in_scale * w_scale
        if after is None:  # the output layer
            if end != graph.output:
                raise ModelError(f"tensor {end!r}: the chain ends before the graph output")
            _check_output(graph, w, scale, chain, node.output[0], levels)
            out = {"weight": w.T.astype(np.int8), "bias": np.zeros(w.shape[1])}
            break
        if after.op_type not in QUANTIZERS:
            raise ModelError(f"{_label(after)}: not supported in a binarized MLP")
        act = _Act(graph, after)
        if multi:
            spec = _multi_block(graph, w, scale, chain, node.output[0], act, len(blocks), levels)
        else:
            spec = _block(graph, w, scale, chain, node.output[0], after, len(blocks))
        blocks.append(spec)
        in_scale, levels = act.scale, act.levels
        tensor, width = after.output[0], w.shape[1]
    quantizer = {"raw": "uint8", "low": 0, "high": RAW_LEVELS - 1, "threshold": raw_thresholds}
    source = {"format": "onnx", "file": p.name, "graph_input": "raw / 255 (float32)"}
    meta = {"name": p.stem, "source": source}
    return BNN.build(size, blocks, out, meta, quantizer, list(input_levels) if multi else None)


def _check_output(
    graph: _Graph,
    w: np.ndarray,
    scale: float,
    chain: list[Any],
    src: str,
    levels: tuple[int, ...] = (-1, 1),
) -> None:
    """Refuse output chains that are not one strictly increasing function of the dot shared
    by every class (then the argmax of the scores is the argmax of the dots, ties alike)."""
    n_in, n_out = w.shape
    if levels == (-1, 1) and np.isin(w, (-1, 1)).all():
        dots = np.arange(-n_in, n_in + 1, 2, dtype=np.float64)
    else:
        top = int(np.abs(w.astype(np.int64)).sum(axis=0).max()) * max(abs(v) for v in levels)
        dots = np.arange(-top, top + 1, dtype=np.float64)
    vals = np.repeat((dots * scale)[:, None], n_out, axis=1).astype(np.float32)
    y = _run_chain(graph, chain, chain[0].input[0] if chain else src, vals)
    if not (y == y[:, :1]).all():
        raise ModelError(
            "output: the scores' affine map differs between classes (per-class "
            "scales change the argmax); not supported"
        )
    if not (np.diff(y[:, 0]) > 0).all():
        raise ModelError(
            "output: the scores are not a strictly increasing function of the "
            "dot in float32 (ties or a negative scale); not supported"
        )
