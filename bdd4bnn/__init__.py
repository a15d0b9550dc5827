"""bdd4bnn — exact verification and quantitative analysis of binarized neural networks.

The Python API: every analysis is ``f(model, region, *, engine="auto", timeout=None,
max_nodes=None, progress=None, ...)`` and returns a typed result with ``to_json()``.

>>> from bdd4bnn import Region, count, load_input, load_model
>>> net = load_model("models/mnist_10x10_100-50-20-10.json")
>>> x = load_input("examples/mnist_test_0_10x10.txt", net.input_size)
>>> count(net, Region.hamming(x, 2)).adversarial
0
"""

from .analyses import (
    CountResult,
    CrossCheckResult,
    ExplainResult,
    RadiusResult,
    VerifyResult,
    count,
    crosscheck,
    explain,
    radius,
    verify,
)
from .errors import Bdd4bnnError, EngineError, InputError, ModelError, RegionError
from .formats import load_input, load_model, save_model
from .model import BNN, BatchNorm, Block, OutputLayer
from .region import Region
from .semantics import classify

__version__ = "0.1.0"

__all__ = [
    "BNN",
    "BatchNorm",
    "Block",
    "OutputLayer",
    "Region",
    "classify",
    "count",
    "verify",
    "radius",
    "explain",
    "crosscheck",
    "CountResult",
    "VerifyResult",
    "RadiusResult",
    "ExplainResult",
    "CrossCheckResult",
    "load_model",
    "save_model",
    "load_input",
    "Bdd4bnnError",
    "ModelError",
    "InputError",
    "RegionError",
    "EngineError",
    "__version__",
]
