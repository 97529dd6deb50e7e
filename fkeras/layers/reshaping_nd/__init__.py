"""Reshaping layers over the non-batch axes (channels last): Permute, RepeatVector,
Cropping1D/2D/3D, UpSampling1D/2D/3D and ZeroPadding1D/2D/3D. (Flatten and Reshape live in
`fkeras.layers.reshaping`.)

None of these layers carries a mask on, as in Keras 3.
"""

from .cropping_padding import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from .permute_repeat import Permute, RepeatVector
from .upsampling import UpSampling1D, UpSampling2D, UpSampling3D

__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Permute",
    "RepeatVector",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
]
