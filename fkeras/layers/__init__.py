"""fkeras layers, under their Keras names."""

from ..core.layer import Layer, StatefulLayer, state_field, static
from .activation import Activation
from .convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .core import Dense, Identity, Input, InputLayer, Masking
from .merging import Add, Concatenate
from .normalization import BatchNormalization, LayerNormalization
from .normalization_more import GroupNormalization, RMSNormalization, UnitNormalization
from .regularization import Dropout
from .regularization_more import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from .reshaping import Flatten, Reshape

__all__ = [
    "Activation",
    "ActivityRegularization",
    "Add",
    "AlphaDropout",
    "BatchNormalization",
    "Concatenate",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Dense",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GaussianDropout",
    "GaussianNoise",
    "GroupNormalization",
    "Identity",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNormalization",
    "Masking",
    "RMSNormalization",
    "Reshape",
    "SeparableConv1D",
    "SeparableConv2D",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "StatefulLayer",
    "UnitNormalization",
    "state_field",
    "static",
]
