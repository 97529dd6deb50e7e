"""Models: `Sequential` and the functional `Model`."""

from .base import BaseModel
from .functional import Model
from .sequential import Sequential

__all__ = ["BaseModel", "Model", "Sequential"]
