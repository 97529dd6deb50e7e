"""Preprocessing layers that run inside a model: feature normalization, categorical encoding
(CategoryEncoding, Discretization, Hashing, IntegerLookup), image rescaling, resizing and
cropping, and random image augmentation (identity in inference)."""

from .category_encoding import CategoryEncoding
from .discretization import Discretization
from .hashing import Hashing
from .integer_lookup import IntegerLookup
from .normalization import Normalization
from .random_augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .random_crop import RandomCrop
from .rescaling import CenterCrop, Rescaling, Resizing

__all__ = [
    "CategoryEncoding",
    "CenterCrop",
    "Discretization",
    "Hashing",
    "IntegerLookup",
    "Normalization",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Resizing",
]
