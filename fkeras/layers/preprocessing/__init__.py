"""Preprocessing layers that run inside a model: feature normalization, image rescaling,
resizing and cropping, and random image augmentation (identity in inference)."""

from .normalization import Normalization
from .random_augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .rescaling import CenterCrop, Rescaling, Resizing

__all__ = [
    "CenterCrop",
    "Normalization",
    "RandomBrightness",
    "RandomContrast",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Resizing",
]
