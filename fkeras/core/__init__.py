"""The module system: layer base, parameters and state, shapes, RNG, config registry."""

from .errors import ImmutableModelError, NotBuiltError
from .layer import Layer, StatefulLayer, state_field, static
from .shapes import TensorSpec
from .symbolic import SymbolicTensor
from .tree import Partitioned, combine, partition, trainable_mask

__all__ = [
    "ImmutableModelError",
    "Layer",
    "NotBuiltError",
    "Partitioned",
    "StatefulLayer",
    "SymbolicTensor",
    "TensorSpec",
    "combine",
    "partition",
    "state_field",
    "static",
    "trainable_mask",
]
