"""bdd4bnn — exact verification and quantitative analysis of binarized neural networks."""

from .analyses import count, verify
from .errors import Bdd4bnnError, InputError, ModelError, RegionError
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
    "load_model",
    "save_model",
    "load_input",
    "Bdd4bnnError",
    "ModelError",
    "InputError",
    "RegionError",
    "__version__",
]
