"""ONNX / QONNX import against qonnx's own executor of the same graph."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdd4bnn import load_model
from bdd4bnn.errors import ModelError
from bdd4bnn.semantics import classify

from .conftest import need_shared

onnx = pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
pytest.importorskip("qonnx", reason="the [onnx] extra is not installed")
pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

QDOMAIN = "qonnx.custom_op.general"


def _execute(path, raw: np.ndarray) -> np.ndarray:
    """Scores of the graph at ``path`` on raw uint8 inputs (N, ...) fed as raw / 255, by
    qonnx's executor (the graph's own arithmetic, custom ops included)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(str(path)))
    g = m.graph
    n = len(raw)
    shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    g.input[0].type.tensor_type.shape.dim[0].dim_value = n
    g.output[0].type.tensor_type.shape.dim[0].dim_value = n
    del g.value_info[:]
    for node in g.node:
        if node.op_type == "Reshape":
            m.set_initializer(node.input[1], np.array([n, -1], dtype=np.int64))
    m = m.transform(InferShapes())
    x = (raw.astype(np.float32) / np.float32(255)).reshape([n, *shape[1:]])
    return execute_onnx(m, {g.input[0].name: x})[g.output[0].name]


def _binarize(model, raw: np.ndarray) -> np.ndarray:
    return model.quantizer.quantize(raw)


def test_tfc_1w1a_equals_the_graph_on_mnist_and_random_images():
    from bdd4bnn.data import load_mnist

    path = need_shared("peers", "qonnx", "TFC_1W1A.onnx")
    model = load_model(path)
    assert model.layer_sizes == [784, 64, 64, 64, 10]
    assert (model.quantizer.threshold == 128).all()  # pixel/255·2 − 1 ≥ 0 in float32
    images, labels = load_mnist("test")
    graph = _execute(path, images).argmax(axis=1)
    ours = classify(model, _binarize(model, images))
    assert np.array_equal(ours, graph)
    assert (ours == labels).mean() == pytest.approx(0.9296)  # measured; 93.17 % published
    rng = np.random.default_rng(0)
    for _ in range(10):  # 10⁵ random raw images, near the pixel threshold half of the time
        raw = rng.integers(0, 256, size=(10_000, 1, 28, 28), dtype=np.uint8)
        near = rng.random(raw.shape) < 0.5
        raw[near] = rng.integers(126, 131, size=int(near.sum()), dtype=np.uint8)
        assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


# -- synthetic graphs: every supported form, checked against the executor ----------------------
def _bq(name: str, src: str, inits: list, scale: float = 1.0):
    inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), f"{name}_s"))
    return helper.make_node("BipolarQuant", [src, f"{name}_s"], [name], domain=QDOMAIN)


def _quant(name: str, src: str, inits: list, spec: dict, scale: float = 1.0):
    """A QONNX Quant node (``spec``: bits, signed, narrow, mode; zero point ``spec["zero"]``)."""
    for key, value in (("s", scale), ("z", spec.get("zero", 0.0)), ("b", spec["bits"])):
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), f"{name}_{key}"))
    return helper.make_node(
        "Quant",
        [src, f"{name}_s", f"{name}_z", f"{name}_b"],
        [name],
        domain=QDOMAIN,
        signed=spec["signed"],
        narrow=spec["narrow"],
        rounding_mode=spec["mode"],
    )


def _graph(
    path,
    sizes,
    rng,
    *,
    unfused=False,
    out_affine=(0.5, 1.0),
    sign=False,
    extra=None,
    zero=False,
    quant=None,
    wquant=None,
    mt=None,
):
    """Write a binarized MLP graph (raw/255 → 2x − 1 → quantizer → blocks → affine).
    ``zero``: the second neuron of each block is exactly 0 at a reachable dot (where
    BipolarQuant gives +1 and Sign 0). ``quant`` / ``wquant``: Quant specs (see
    :func:`_quant`) for the activations (input included) / the weights."""
    nodes, inits = [], []

    def act(name, src, channels=1):
        if mt:  # FINN MultiThreshold: mt steps, levels from -1 on
            th = np.sort(rng.standard_normal((channels, mt)), axis=1).astype(np.float32)
            inits.append(numpy_helper.from_array(th, f"{name}_t"))
            return helper.make_node(
                "MultiThreshold",
                [src, f"{name}_t"],
                [name],
                domain=QDOMAIN,
                out_dtype="INT4",
                out_bias=-1.0,
            )
        return _quant(name, src, inits, quant) if quant else _bq(name, src, inits)

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    nodes.append(helper.make_node("Mul", ["in", const("two", 2.0)], ["x2"]))
    nodes.append(helper.make_node("Sub", ["x2", const("one", [1.0])], ["xc"]))
    nodes.append(act("q0", "xc"))
    prev = "q0"
    for b, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.standard_normal((n_in, n_out)).astype(np.float32)
        const(f"w{b}", w)
        if wquant:
            nodes.append(_quant(f"wq{b}", f"w{b}", inits, wquant, scale=0.5))
        else:
            nodes.append(_bq(f"wq{b}", f"w{b}", inits))
        nodes.append(helper.make_node("MatMul", [prev, f"wq{b}"], [f"mm{b}"]))
        if b == len(sizes) - 2:
            a, c = out_affine
            nodes.append(helper.make_node("Mul", [f"mm{b}", const("oa", a)], ["om"]))
            nodes.append(helper.make_node("Add", ["om", const("oc", c)], ["out"]))
            break
        gamma = rng.standard_normal(n_out).astype(np.float32)  # negative ones: falling steps
        gamma[0] = 0.0  # a constant neuron
        beta = rng.standard_normal(n_out).astype(np.float32)
        mean = (rng.standard_normal(n_out) * 2).astype(np.float32)
        var = (rng.random(n_out) * 4 + 0.1).astype(np.float32)
        if zero and n_out > 1:
            gamma[1], beta[1], mean[1] = 1.0, 0.0, n_in % 2  # dots have n_in's parity
        if unfused:
            nodes += [
                helper.make_node("Sub", [f"mm{b}", const(f"m{b}", mean)], [f"s{b}"]),
                helper.make_node("Div", [f"s{b}", const(f"d{b}", np.sqrt(var + 1e-5))], [f"v{b}"]),
                helper.make_node("Mul", [f"v{b}", const(f"g{b}", gamma)], [f"u{b}"]),
                helper.make_node("Add", [f"u{b}", const(f"be{b}", beta)], [f"bn{b}"]),
            ]
        else:
            names = [
                const(f"{k}{b}", v) for k, v in zip("gbmv", (gamma, beta, mean, var), strict=True)
            ]
            nodes.append(
                helper.make_node("BatchNormalization", [f"mm{b}", *names], [f"bn{b}"], epsilon=1e-5)
            )
        if sign:
            nodes.append(helper.make_node("Sign", [f"bn{b}"], [f"h{b}"]))
        else:
            nodes.append(act(f"h{b}", f"bn{b}", n_out))
        prev = f"h{b}"
    if extra:
        extra(nodes, inits)
    g = helper.make_graph(
        nodes,
        "bnn",
        [helper.make_tensor_value_info("in", TensorProto.FLOAT, [1, sizes[0]])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, sizes[-1]])],
        inits,
    )
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(QDOMAIN, 1)]
    )
    onnx.save(m, str(path))


@settings(max_examples=12, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(1, 9), min_size=2, max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_random_graphs_equal_the_executor(tmp_path_factory, seed, hidden, unfused, zero):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(3, 12)), *hidden, int(rng.integers(2, 5))]
    path = tmp_path_factory.mktemp("onnx") / "bnn.onnx"
    _graph(path, sizes, rng, unfused=unfused, zero=zero)
    model = load_model(path)
    raw = rng.integers(0, 256, size=(500, sizes[0]), dtype=np.uint8)
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


QUANTS = st.fixed_dictionaries(
    {
        "bits": st.integers(2, 4),
        "signed": st.integers(0, 1),
        "narrow": st.integers(0, 1),
        "mode": st.sampled_from(["ROUND", "FLOOR", "CEIL", "HALF_UP", "DOWN"]),
        "zero": st.sampled_from([0.0, 0.0, 1.0]),
    }
)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(1, 6), min_size=2, max_size=3),
    QUANTS,
    st.one_of(st.none(), QUANTS.filter(lambda q: q["bits"] == 2)),
)
def test_multi_level_graphs_equal_the_executor(tmp_path_factory, seed, hidden, quant, wquant):
    """Quant activations (input included) and optionally Quant weights: every rounding mode,
    signed or not, narrow or not, zero points."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(3, 10)), *hidden, int(rng.integers(2, 5))]
    path = tmp_path_factory.mktemp("onnx") / "multi.onnx"
    _graph(path, sizes, rng, quant=quant, wquant=wquant)
    model = load_model(path)
    assert not model.is_binary
    raw = rng.integers(0, 256, size=(500, sizes[0]), dtype=np.uint8)
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


@settings(max_examples=10, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(1, 6), min_size=2, max_size=3),
    st.integers(1, 4),
)
def test_multithreshold_graphs_equal_the_executor(tmp_path_factory, seed, hidden, steps):
    """FINN MultiThreshold activations (per-channel thresholds, shared ones on the input)."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(3, 10)), *hidden, int(rng.integers(2, 5))]
    path = tmp_path_factory.mktemp("onnx") / "mt.onnx"
    _graph(path, sizes, rng, mt=steps)
    model = load_model(path)
    assert model.input_levels == tuple(range(-1, steps))
    raw = rng.integers(0, 256, size=(500, sizes[0]), dtype=np.uint8)
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


def test_tfc_1w2a_equals_the_graph_on_mnist():
    from bdd4bnn.data import load_mnist

    path = need_shared("peers", "qonnx", "TFC_1W2A.onnx")
    model = load_model(path)
    assert model.layer_sizes == [784, 64, 64, 64, 10] and model.input_levels == (-1, 0, 1)
    assert all(b.levels == (-1, 0, 1) for b in model.blocks)
    images, labels = load_mnist("test")
    ours = classify(model, _binarize(model, images))
    assert np.array_equal(ours, _execute(path, images).argmax(axis=1))
    assert (ours == labels).mean() == pytest.approx(0.9474)  # measured; 94.79 % published
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=(5000, 1, 28, 28), dtype=np.uint8)
    near = rng.random(raw.shape) < 0.5  # next to the input thresholds (64 and 192)
    raw[near] = rng.choice([62, 63, 64, 65, 190, 191, 192, 193], size=int(near.sum()))
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


def test_bad_quant_nodes_are_one_line_errors(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "q.onnx"
    wide = {"bits": 8, "signed": 1, "narrow": 0, "mode": "ROUND"}
    _graph(path, [4, 3, 2], rng, quant=wide)
    with pytest.raises(ModelError, match="bit width 8 is not supported"):
        load_model(path)
    _graph(path, [4, 3, 2], rng, mt=16)
    with pytest.raises(ModelError, match=r"17 levels \(at most 16\)"):
        load_model(path)
    _graph(path, [4, 3, 2], rng, quant=dict(wide, bits=2, mode="SIDEWAYS"))
    with pytest.raises(ModelError, match="rounding mode 'SIDEWAYS' is not supported"):
        load_model(path)

    two = {"bits": 2, "signed": 1, "narrow": 1, "mode": "ROUND"}
    bad_scales = (
        ([1.0, 0.5, 1.0], "constant scalar scale"),
        (0.3, "power of two"),
        (-1.0, "power"),
    )
    for bad_scale, words in bad_scales:
        _graph(path, [4, 3, 2], rng, quant=two)
        m = onnx.load(str(path))
        for t in m.graph.initializer:
            if t.name == "h0_s":
                t.CopyFrom(numpy_helper.from_array(np.array(bad_scale, dtype=np.float32), "h0_s"))
        onnx.save(m, str(path))
        with pytest.raises(ModelError, match=words):
            load_model(path)


def test_bipolar_quant_of_exactly_zero_is_plus_one(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "zero.onnx"
    _graph(path, [6, 4, 3], rng, zero=True)
    model = load_model(path)
    assert model.blocks[0].bias[1] == -0.0  # +1 iff dot ≥ 0 (6 inputs: even dots)
    raw = rng.integers(0, 256, size=(2000, 6), dtype=np.uint8)
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))


def test_sign_activations_import_unless_a_value_is_zero(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "sign.onnx"
    _graph(path, [6, 5, 3], rng, sign=True)
    model = load_model(path)
    raw = rng.integers(0, 256, size=(300, 6), dtype=np.uint8)
    assert np.array_equal(classify(model, _binarize(model, raw)), _execute(path, raw).argmax(1))
    _graph(path, [6, 5, 3], rng, sign=True, zero=True)
    with pytest.raises(ModelError, match="exactly 0"):  # ONNX Sign(0) = 0: not a BNN
        load_model(path)


def test_bad_graphs_are_one_line_errors(tmp_path):
    rng = np.random.default_rng(1)
    truncated = tmp_path / "cut.onnx"
    _graph(truncated, [4, 3, 2], rng)
    truncated.write_bytes(truncated.read_bytes()[:50])
    text = tmp_path / "text.onnx"
    text.write_text("hello")

    cases = {
        truncated: "not a readable ONNX file",
        text: "not a readable ONNX file",
    }
    for path, words in cases.items():
        with pytest.raises(ModelError, match=words) as info:
            load_model(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    per_class = tmp_path / "perclass.onnx"
    _graph(per_class, [4, 3, 2], rng, out_affine=([0.5, 2.0], 0.0))
    with pytest.raises(ModelError, match="differs between classes"):
        load_model(per_class)
    negative = tmp_path / "negative.onnx"
    _graph(negative, [4, 3, 2], rng, out_affine=(-1.0, 0.0))
    with pytest.raises(ModelError, match="strictly increasing"):
        load_model(negative)
    odd_scale = tmp_path / "scale.onnx"

    def scale3(nodes, inits):
        for t in inits:
            if t.name == "wq0_s":
                t.CopyFrom(numpy_helper.from_array(np.array(3.0, dtype=np.float32), "wq0_s"))

    _graph(odd_scale, [4, 3, 2], rng, extra=scale3)
    with pytest.raises(ModelError, match="power of two"):
        load_model(odd_scale)
    relu_path = tmp_path / "relu.onnx"

    def relu_block(nodes, inits):
        i = next(
            k for k, n in enumerate(nodes) if n.op_type == "BipolarQuant" and n.output[0] == "h0"
        )
        nodes[i] = helper.make_node("Relu", ["bn0"], ["h0"], name="act0")

    _graph(relu_path, [4, 3, 2], rng, extra=relu_block)
    with pytest.raises(ModelError, match=r"\(Relu\): not supported"):
        load_model(relu_path)


def test_cli_reads_an_onnx_model_and_its_input_rule(tmp_path):
    from bdd4bnn.data import load_mnist

    from .test_cli import run

    path = need_shared("peers", "qonnx", "TFC_1W1A.onnx")
    need_shared("data", "mnist")
    inp = tmp_path / "x.txt"
    code, out, _ = run("dataset-input", "--model", path, "--index", 0, "--out", inp)
    assert code == 0 and "28x28" in out
    images, _ = load_mnist("test")
    want = np.where(images[0].ravel() >= 128, 1, 0)  # the graph's own rule: pixel ≥ 128
    assert np.array_equal(np.array(inp.read_text().split(), dtype=int), want)
    code, out, _ = run("info", path, "--json")
    assert json.loads(out)["input_quantizer"]["threshold"] == 128
    code, out, _ = run("verify", path, "--input", inp, "--radius", 2, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["robust"] is True and doc["label"] == 7
