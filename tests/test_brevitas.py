"""Brevitas round trip: a BNN trained with Brevitas, exported as QONNX, imports and predicts
exactly like the Brevitas module."""

from __future__ import annotations

import numpy as np
import pytest

from bdd4bnn import load_model
from bdd4bnn.semantics import classify

from .conftest import need_shared

# Brevitas and torch.onnx warn about their own deprecations while exporting
pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::UserWarning", "ignore::FutureWarning"
)

torch = pytest.importorskip("torch", reason="the [brevitas] extra is not installed")
qnn = pytest.importorskip("brevitas.nn", reason="the [brevitas] extra is not installed")
pytest.importorskip("onnxoptimizer", reason="the [brevitas] extra is not installed")
pytest.importorskip("qonnx", reason="the [onnx] extra is not installed")


def _net(hidden: int):
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    class Act(SignedBinaryActPerTensorConst):
        scaling_const = 1.0  # ±1 (Brevitas' default 0.1 is refused: see onnx_import)

    class Weight(SignedBinaryWeightPerTensorConst):
        scaling_const = 1.0

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Act)
            self.l1 = qnn.QuantLinear(784, hidden, bias=False, weight_quant=Weight)
            self.bn1 = torch.nn.BatchNorm1d(hidden)
            self.a1 = qnn.QuantIdentity(act_quant=Act)
            self.l2 = qnn.QuantLinear(hidden, 10, bias=False, weight_quant=Weight)

        def forward(self, x):
            x = self.inp(2 * x.flatten(1) - 1)
            return self.l2(self.a1(self.bn1(self.l1(x))))

    return Net()


def test_brevitas_bnn_round_trip(tmp_path):
    from brevitas.export import export_qonnx

    from bdd4bnn.data import load_mnist

    need_shared("data", "mnist")
    torch.manual_seed(0)
    images, labels = load_mnist("train")
    x = torch.tensor(images[:6000].reshape(-1, 784) / 255.0, dtype=torch.float32)
    y = torch.tensor(labels[:6000], dtype=torch.long)
    net = _net(32)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(60):  # a short training run: the point is the round trip
        idx = torch.randint(0, len(x), (128,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    net.eval()
    path = tmp_path / "bnn.onnx"
    export_qonnx(net, input_t=torch.rand(1, 784), export_path=str(path), dynamo=False)
    model = load_model(path)
    assert model.layer_sizes == [784, 32, 10] and (model.quantizer.threshold == 128).all()
    test, test_labels = load_mnist("test")
    with torch.no_grad():
        ref = net(torch.tensor(test.reshape(-1, 784) / 255.0, dtype=torch.float32)).argmax(1)
    ours = classify(model, model.quantizer.quantize(test))
    assert np.array_equal(ours, ref.numpy())
    assert (ours == test_labels).mean() > 0.5  # it learned something
