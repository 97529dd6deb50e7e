"""fkeras: Keras ergonomics on immutable, pure-JAX (Equinox) modules."""

from . import activations, initializers, layers, models, saving, utils
from .core import (
    ImmutableModelError,
    NotBuiltError,
    combine,
    partition,
    trainable_mask,
)
from .layers import Input
from .models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "ImmutableModelError",
    "Input",
    "Model",
    "NotBuiltError",
    "Sequential",
    "activations",
    "combine",
    "initializers",
    "layers",
    "models",
    "partition",
    "saving",
    "trainable_mask",
    "utils",
]
