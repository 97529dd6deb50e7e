"""fkeras layers, under their Keras names."""

from ..core.layer import Layer, StatefulLayer, state_field, static
from .activation import Activation
from .core import Dense, Identity, Input, InputLayer, Masking
from .merging import Add, Concatenate
from .normalization import BatchNormalization, LayerNormalization
from .regularization import Dropout
from .reshaping import Flatten, Reshape

__all__ = [
    "Activation",
    "Add",
    "BatchNormalization",
    "Concatenate",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "Masking",
    "Reshape",
    "StatefulLayer",
    "state_field",
    "static",
]
